package session

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// BroadcastOperator selects the recipients of a broadcast or cluster
// operation. It is an immutable value: every method returns a modified
// copy, so operators can be kept and shared freely.
//
//	nsp.To("room1").Except("room2").Emit("news", item)
type BroadcastOperator struct {
	nsp  *Namespace
	opts adapter.Options
}

// To adds rooms to the recipients (their union, each socket once).
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.opts.Rooms = append(slices.Clip(b.opts.Rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except removes the members of rooms from the recipients.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.opts.Except = append(slices.Clip(b.opts.Except), rooms...)
	return b
}

// Local restricts the operation to this node's sockets.
func (b BroadcastOperator) Local() BroadcastOperator {
	b.opts.Flags.Local = true
	return b
}

// Volatile lets the packet be dropped for clients that cannot take it now.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	b.opts.Flags.Volatile = true
	return b
}

// Timeout bounds EmitWithAck.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator {
	b.opts.Flags.Timeout = d
	return b
}

// Options returns the adapter options the operator stands for.
func (b BroadcastOperator) Options() adapter.Options { return b.opts }

// Emit broadcasts an event. The packet is encoded once and every recipient
// connection writes the same bytes; Emit never blocks on a client.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	p, err := eventPacket(event, args)
	if err != nil {
		return err
	}
	return b.broadcast(p)
}

// EmitRaw broadcasts data, a JSON array [event, args...] sent as is, with
// the attachments its placeholders refer to.
func (b BroadcastOperator) EmitRaw(data []byte, attachments [][]byte) error {
	return b.broadcast(rawEventPacket(data, attachments))
}

func (b BroadcastOperator) broadcast(p *socketio.Packet) error {
	p.Namespace = b.nsp.name
	return b.nsp.adapter.Broadcast(context.Background(), p, b.opts)
}

// EmitWithAck broadcasts an event and collects one ack per recipient, on
// every node. It returns when every recipient has answered or, on this
// node, disconnected, or when ctx or the operator's Timeout ends the wait:
// then it returns the acks that arrived with a *adapter.TimeoutError. A
// recipient on another node that disconnects is waited for until then, so
// give ctx a deadline or the operator a Timeout.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]*Args, error) {
	p, err := eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	return b.emitWithAck(ctx, p)
}

// EmitRawWithAck is EmitWithAck for data, a JSON array [event, args...]
// sent as is, with the attachments its placeholders refer to.
func (b BroadcastOperator) EmitRawWithAck(ctx context.Context, data []byte, attachments [][]byte) ([]*Args, error) {
	return b.emitWithAck(ctx, rawEventPacket(data, attachments))
}

func (b BroadcastOperator) emitWithAck(ctx context.Context, p *socketio.Packet) ([]*Args, error) {
	p.Namespace = b.nsp.name
	if d := b.opts.Flags.Timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	servers, err := b.nsp.adapter.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	c := &ackCollector{servers: servers, done: make(chan struct{})}
	// The local delivery finds c in ctx to report recipients that leave.
	ctx = context.WithValue(ctx, ackCollectorKey{}, c)
	if err := b.nsp.adapter.BroadcastWithAck(ctx, p, b.opts, c.count, c.ack); err != nil {
		return nil, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return c.result()
}

// ackCollectorKey is the context key of the ackCollector of a local
// EmitWithAck, for local.DeliverWithAck.
type ackCollectorKey struct{}

// ackCollector gathers the client counts and acks of a broadcast.
type ackCollector struct {
	servers int
	done    chan struct{}

	mu       sync.Mutex
	counts   int // servers that reported
	expected int // clients, summed over those servers
	acks     []*Args
	finished bool
}

func (c *ackCollector) count(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts++
	c.expected += n
	c.check()
}

func (c *ackCollector) ack(p *socketio.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.acks = append(c.acks, newArgs(p))
	c.check()
}

// gone uncounts a recipient of this node that disconnected before its ack.
// It may come before this node's count, which includes the recipient.
func (c *ackCollector) gone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expected--
	c.check()
}

func (c *ackCollector) check() {
	if !c.finished && c.counts >= c.servers && len(c.acks) >= c.expected {
		c.finished = true
		close(c.done)
	}
}

func (c *ackCollector) result() ([]*Args, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return c.acks, nil
	}
	c.finished = true
	close(c.done)
	expected := c.expected
	if c.counts < c.servers {
		expected += c.servers - c.counts // unknown: count each silent node as one
	}
	return c.acks, &adapter.TimeoutError{Op: "broadcastWithAck", Received: len(c.acks), Expected: expected}
}

// SocketsJoin makes the selected sockets, on every node, join rooms.
func (b BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.nsp.adapter.SocketsJoin(ctx, b.opts, rooms...)
}

// SocketsLeave makes the selected sockets, on every node, leave rooms.
func (b BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.nsp.adapter.SocketsLeave(ctx, b.opts, rooms...)
}

// DisconnectSockets disconnects the selected sockets on every node; with
// close their Engine.IO connections are closed too.
func (b BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.nsp.adapter.DisconnectSockets(ctx, b.opts, close)
}

// FetchSockets describes the selected sockets of every node. On a timeout
// it returns what arrived and a *adapter.TimeoutError.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]adapter.SocketInfo, error) {
	if d := b.opts.Flags.Timeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return b.nsp.adapter.FetchSockets(ctx, b.opts)
}

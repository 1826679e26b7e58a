package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Namespace is a Socket.IO namespace: its middleware, its connection and
// server-side event handlers, and its broadcasts. All methods may be called
// concurrently; register handlers before clients connect.
type Namespace struct {
	srv     *Server
	name    string
	adapter adapter.Namespace
	ackIDs  atomic.Uint64 // ack ids of emits and broadcasts, unique per namespace
	ready   chan struct{} // closed once set up (DynamicNamespaces)
	dynamic bool          // removed when refs drops to 0; guarded by Server.mu
	refs    int           // sockets connecting or connected; guarded by Server.mu

	mu           sync.RWMutex
	middleware   []func(*Socket) error
	onConnection []func(*Socket)
	serverSide   map[string]func(*ServerEvent)
}

// Name returns the namespace name, with its leading slash.
func (n *Namespace) Name() string { return n.name }

// Adapter returns the namespace's adapter.
func (n *Namespace) Adapter() adapter.Namespace { return n.adapter }

// Use adds a middleware, run for each connecting socket, in the order
// added, before the connection handlers. An error refuses the connection:
// the client gets CONNECT_ERROR with {"message": err.Error()}, plus
// "data" when the error is a *ConnectError.
func (n *Namespace) Use(mw func(s *Socket) error) {
	n.mu.Lock()
	n.middleware = append(n.middleware, mw)
	n.mu.Unlock()
}

// OnConnection adds a function called for each socket that connects, on
// the socket's handler goroutine (before its first event handler).
func (n *Namespace) OnConnection(f func(s *Socket)) {
	n.mu.Lock()
	n.onConnection = append(n.onConnection, f)
	n.mu.Unlock()
}

// OnServerSideEmit sets the handler of a server-side event sent by another
// node with ServerSideEmit. Handlers run on goroutines of their own.
func (n *Namespace) OnServerSideEmit(event string, h func(ev *ServerEvent)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.serverSide == nil {
		n.serverSide = make(map[string]func(*ServerEvent))
	}
	n.serverSide[event] = h
}

// Broadcast operators on the whole namespace; see BroadcastOperator.

func (n *Namespace) op() BroadcastOperator                    { return BroadcastOperator{nsp: n} }
func (n *Namespace) To(rooms ...string) BroadcastOperator     { return n.op().To(rooms...) }
func (n *Namespace) In(rooms ...string) BroadcastOperator     { return n.op().In(rooms...) }
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.op().Except(rooms...) }
func (n *Namespace) Local() BroadcastOperator                 { return n.op().Local() }
func (n *Namespace) Volatile() BroadcastOperator              { return n.op().Volatile() }

// Emit broadcasts an event to every socket of the namespace, on every node.
func (n *Namespace) Emit(event string, args ...any) error { return n.op().Emit(event, args...) }

// EmitRaw broadcasts data, a JSON array [event, args...] sent as is.
func (n *Namespace) EmitRaw(data []byte, attachments [][]byte) error {
	return n.op().EmitRaw(data, attachments)
}

// ServerSideEmit sends an event to the other nodes of the cluster, whose
// OnServerSideEmit handlers receive it. Arguments must be JSON (no []byte).
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	data, err := serverSideData(event, args)
	if err != nil {
		return err
	}
	return n.adapter.ServerSideEmit(ctx, data)
}

// ServerSideEmitWithAck is ServerSideEmit expecting one reply per other
// node; on a timeout it returns the replies that arrived and a
// *adapter.TimeoutError.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	data, err := serverSideData(event, args)
	if err != nil {
		return nil, err
	}
	return n.adapter.ServerSideEmitWithAck(ctx, data)
}

func serverSideData(event string, args []any) (json.RawMessage, error) {
	if isReserved(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	elems, atts, err := socketio.MarshalArgs(args, 0)
	if err != nil {
		return nil, err
	}
	if len(atts) > 0 {
		return nil, errors.New("session: server-side events carry JSON only, not []byte")
	}
	return socketio.AppendEvent(nil, event, elems...), nil
}

// ServerEvent is a server-side event from another node.
type ServerEvent struct {
	Name string
	Data json.RawMessage // the JSON array [name, args...], as received

	args  [][]byte
	reply func(json.RawMessage)
	once  atomic.Bool
}

// Args returns the raw JSON arguments, without the event name.
func (e *ServerEvent) Args() [][]byte { return e.args }

// Decode decodes argument i (0 is the first after the name) into v.
func (e *ServerEvent) Decode(i int, v any) error { return decodeArg(e.args, nil, i, v) }

// HasAck reports whether the sending node waits for a reply.
func (e *ServerEvent) HasAck() bool { return e.reply != nil }

// Ack replies to the sending node with v (JSON-encoded), at most once.
func (e *ServerEvent) Ack(v any) error {
	if e.reply == nil {
		return ErrNoAck
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !e.once.CompareAndSwap(false, true) {
		return ErrAcked
	}
	e.reply(b)
	return nil
}

// connect runs on the socket's goroutine: middleware, then CONNECT, then
// the connection handlers.
func (n *Namespace) connect(s *Socket) {
	n.mu.RLock()
	mws, handlers := n.middleware, n.onConnection
	n.mu.RUnlock()
	c := s.client
	var rooms []string
	recovered := false
	if s.rec != nil {
		if rooms, recovered = n.restore(s); recovered && !n.srv.cfg.Recovery.RunMiddlewares {
			mws = nil
		}
	}
	for _, mw := range mws {
		var err error
		if !s.safely("middleware", func() { err = mw(s) }) {
			//lint:ignore ST1005 the message the client's connect_error shows
			err = errors.New("Internal error")
		}
		if err == nil {
			continue
		}
		s.mu.Lock()
		pending := s.state == statePending
		s.state = stateClosed
		s.mu.Unlock()
		if pending {
			n.srv.stats.connectErrors.Add(1)
			var ce *ConnectError
			if errors.As(err, &ce) {
				c.sendConnectError(n.name, ce.Message, ce.Data)
			} else {
				c.sendConnectError(n.name, err.Error(), nil)
			}
		}
		c.remove(s)
		return
	}

	s.mu.Lock()
	if s.state != statePending {
		s.mu.Unlock()
		return
	}
	s.state = stateConnected
	s.mu.Unlock()
	n.srv.stats.sockets.Add(1)
	c.connected()
	// CONNECT goes out before the socket joins its rooms, so no broadcast
	// can reach the client ahead of it.
	var sid []byte // none for a legacy client (protocol v4 has no recovery either)
	if !c.legacy() {
		sid, _ = json.Marshal(struct {
			SID string `json:"sid"`
			PID string `json:"pid,omitempty"`
		}{s.id, s.PID()})
	}
	n.srv.stats.packetsOut.Add(1)
	c.conn.Send(encodeFrames(&socketio.Packet{Type: socketio.Connect, Namespace: n.name, Data: sid}), false)
	s.mu.Lock()
	if s.state == stateConnected {
		n.adapter.AddAll(s, s.id)
		if len(rooms) > 0 {
			n.adapter.AddAll(s, rooms...)
		}
		if len(s.joinPending) > 0 {
			n.adapter.AddAll(s, s.joinPending...)
		}
	}
	s.joinPending = nil
	s.mu.Unlock()
	if recovered {
		n.replay(s)
	}
	s.changed()
	for _, h := range handlers {
		if !s.safely("connection handler", func() { h(s) }) {
			return
		}
	}
}

// local implements adapter.Local for a namespace.
type local struct{ n *Namespace }

func (l local) Name() string { return l.n.name }

func (l local) Deliver(pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket]) {
	l.n.srv.stats.broadcasts.Add(1)
	frames := encodeFrames(l.n.packet(pkt))
	var sent uint64
	for s := range to {
		if sock, ok := s.(*Socket); ok {
			sock.deliver(frames, flags.Volatile, pkt)
			sent++
		}
	}
	l.n.srv.stats.packetsOut.Add(sent)
	l.n.srv.stats.fanOut.Observe(float64(sent))
}

func (l local) DeliverWithAck(ctx context.Context, pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket], ack func(*socketio.Packet)) int {
	l.n.srv.stats.broadcasts.Add(1)
	p := *l.n.packet(pkt)
	p.ID, p.HasID = l.n.ackIDs.Add(1), true
	frames := encodeFrames(&p)
	// A recipient that disconnects replies nil: the EmitWithAck of this
	// node, if it is the requester, stops waiting for it.
	collector, _ := ctx.Value(ackCollectorKey{}).(*ackCollector)
	start := time.Now()
	f := func(reply *socketio.Packet) {
		switch {
		case ctx.Err() != nil:
		case reply != nil:
			l.n.srv.stats.ackRoundTrip.ObserveSince(start)
			ack(reply)
		case collector != nil:
			collector.gone()
		}
	}
	var socks []*Socket
	for s := range to {
		if sock, ok := s.(*Socket); ok && sock.addAck(p.ID, f) == nil {
			sock.deliver(frames, flags.Volatile, nil)
			socks = append(socks, sock)
		}
	}
	l.n.srv.stats.packetsOut.Add(uint64(len(socks)))
	l.n.srv.stats.fanOut.Observe(float64(len(socks)))
	if len(socks) > 0 {
		context.AfterFunc(ctx, func() {
			for _, s := range socks {
				s.removeAck(p.ID)
			}
		})
	}
	return len(socks)
}

func (l local) Info(s adapter.Socket) adapter.SocketInfo {
	if sock, ok := s.(*Socket); ok {
		return sock.info()
	}
	return adapter.SocketInfo{ID: s.ID()}
}

func (l local) Disconnect(s adapter.Socket, close bool) {
	if sock, ok := s.(*Socket); ok {
		sock.Disconnect(close)
	}
}

func (l local) ServerSideEmit(data json.RawMessage, ack func(json.RawMessage)) {
	name, args, err := socketio.SplitEvent(data)
	if err != nil {
		l.n.srv.log.Debug("session: ignoring a malformed server-side event", "nsp", l.n.name, "err", err)
		return
	}
	l.n.mu.RLock()
	h := l.n.serverSide[name]
	l.n.mu.RUnlock()
	if h == nil {
		return
	}
	ev := &ServerEvent{Name: name, Data: data, args: args, reply: ack}
	srv := l.n.srv
	srv.goWork(func() {
		defer func() {
			if r := recover(); r != nil {
				srv.stats.handlerPanics.Add(1)
				srv.log.Error("session: panic in server-side event handler", "nsp", l.n.name, "event", name, "panic", r)
			}
		}()
		h(ev)
	})
}

// packet returns pkt for this namespace (adapters may hand packets without
// the namespace set).
func (n *Namespace) packet(pkt *socketio.Packet) *socketio.Packet {
	if pkt.Namespace == n.name {
		return pkt
	}
	p := *pkt
	p.Namespace = n.name
	return &p
}

// Timeout returns an operator whose EmitWithAck waits at most d.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.op().Timeout(d) }

// EmitWithAck broadcasts an event to every socket and collects their acks
// (see BroadcastOperator.EmitWithAck).
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]*Args, error) {
	return n.op().EmitWithAck(ctx, event, args...)
}

// FetchSockets describes every socket of the namespace, on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]adapter.SocketInfo, error) {
	return n.op().FetchSockets(ctx)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(ctx context.Context, rooms ...string) error {
	return n.op().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(ctx context.Context, rooms ...string) error {
	return n.op().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return n.op().DisconnectSockets(ctx, close)
}

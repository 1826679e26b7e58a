package redis

import (
	"context"
	"encoding/json"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// slowAckLocal answers every DeliverWithAck with one client ack after delay,
// unless the adapter's ack context ended first.
type slowAckLocal struct {
	delay time.Duration
	wg    sync.WaitGroup
}

func (l *slowAckLocal) Name() string                                                      { return "/" }
func (l *slowAckLocal) Deliver(*socketio.Packet, adapter.Flags, iter.Seq[adapter.Socket]) {}
func (l *slowAckLocal) DeliverWithAck(ctx context.Context, _ *socketio.Packet, _ adapter.Flags, to iter.Seq[adapter.Socket], ack func(*socketio.Packet)) int {
	n := 0
	for range to {
		n++
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			select {
			case <-time.After(l.delay):
				ack(&socketio.Packet{Type: socketio.Ack, Data: []byte(`["late"]`)})
			case <-ctx.Done():
			}
		}()
	}
	return n
}
func (l *slowAckLocal) Info(s adapter.Socket) adapter.SocketInfo {
	return adapter.SocketInfo{ID: s.ID()}
}
func (l *slowAckLocal) Disconnect(adapter.Socket, bool)                       {}
func (l *slowAckLocal) ServerSideEmit(json.RawMessage, func(json.RawMessage)) {}

// TestRemoteAckUsesRequesterTimeout: a node forwards client acks of a remote
// broadcast with acks for as long as the requester waits (flags.timeout),
// not just its own RequestsTimeout.
func TestRemoteAckUsesRequesterTimeout(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		name := "classic"
		if sharded {
			name = "sharded"
		}
		t.Run(name, func(t *testing.T) {
			as := newTestAdapters(t, 2, func(c *Config) {
				c.Sharded = sharded
				c.RequestsTimeout = 200 * time.Millisecond
			})
			requester, err := as[0].Namespace(&countLocal{})
			if err != nil {
				t.Fatal(err)
			}
			slow := &slowAckLocal{delay: 600 * time.Millisecond}
			defer slow.wg.Wait()
			responder, err := as[1].Namespace(slow)
			if err != nil {
				t.Fatal(err)
			}
			responder.AddAll(idSocket("b1"), "b1")
			ctx := context.Background()
			waitUntil(t, 5*time.Second, "two subscribers", func() bool { n, _ := requester.ServerCount(ctx); return n == 2 })

			var counts, acks atomic.Int32
			err = requester.BroadcastWithAck(ctx, &socketio.Packet{Type: socketio.Event, Data: []byte(`["ask"]`)},
				adapter.Options{Flags: adapter.Flags{Timeout: 3 * time.Second}},
				func(c int) { counts.Add(int32(c)) }, func(*socketio.Packet) { acks.Add(1) })
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 3*time.Second, "the remote client's late ack", func() bool { return acks.Load() == 1 })
			if c := counts.Load(); c != 1 {
				t.Errorf("client count %d, want 1", c)
			}
		})
	}
}

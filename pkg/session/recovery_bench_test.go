package session

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// benchServer is a server with n connected sockets on nopConns.
func benchServer(b *testing.B, n int, cfg Config) *Server {
	b.Helper()
	cfg.Logger = quietLogger()
	s, err := newServer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	joined := make(chan struct{}, n)
	s.OnConnection(func(so *Socket) { joined <- struct{}{} })
	for i := range n {
		c := s.open(&nopConn{id: fmt.Sprint("c", i)}, &transport.Request{})
		c.onMessage([]byte("0"), false)
	}
	for range n {
		<-joined
	}
	b.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// BenchmarkBroadcastRecovery compares the fan-out cost of a broadcast to
// every socket with connection state recovery off and on (memory adapter:
// each broadcast is stored in the history and carries its offset).
func BenchmarkBroadcastRecovery(b *testing.B) {
	const n = 10000
	for _, on := range []bool{false, true} {
		var cfg Config
		name := "off"
		if on {
			cfg.Recovery.MaxDisconnection = 2 * time.Minute
			name = "on"
		}
		s := benchServer(b, n, cfg)
		b.Run(fmt.Sprintf("recovery=%s/%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Emit("message", "hello, world"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/delivery")
		})
	}
}

// countingAdapter counts the sessions its namespaces store.
type countingAdapter struct {
	adapter.Adapter
	writes, deletes atomic.Int64
}

type countingNamespace struct {
	adapter.Namespace
	a *countingAdapter
}

func (a *countingAdapter) Namespace(l adapter.Local) (adapter.Namespace, error) {
	n, err := a.Adapter.Namespace(l)
	return countingNamespace{n, a}, err
}

func (n countingNamespace) EnableRecovery(cfg adapter.RecoveryConfig) error {
	return n.Namespace.(adapter.Recoverer).EnableRecovery(cfg)
}
func (n countingNamespace) PersistSession(ctx context.Context, s adapter.Session) error {
	n.a.writes.Add(1)
	return n.Namespace.(adapter.Recoverer).PersistSession(ctx, s)
}
func (n countingNamespace) DeleteSession(ctx context.Context, pid string) error {
	n.a.deletes.Add(1)
	return n.Namespace.(adapter.Recoverer).DeleteSession(ctx, pid)
}
func (n countingNamespace) RestoreSession(ctx context.Context, pid, offset string) (*adapter.Session, error) {
	return n.Namespace.(adapter.Recoverer).RestoreSession(ctx, pid, offset)
}
func (n countingNamespace) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	return n.Namespace.(adapter.Recoverer).MissedPackets(ctx, offset, rooms)
}

// BenchmarkEagerPersist measures the session writes of PersistEager for
// 10,000 idle sockets, in steady state (after the connect-time writes),
// with MaxDisconnection 2s (a refresh every second): it reports writes per
// second, each one Redis SET with the streams adapter. The rate scales as
// 2 × sockets / MaxDisconnection.
func BenchmarkEagerPersist(b *testing.B) {
	const n, d = 10000, 2 * time.Second
	ca := &countingAdapter{Adapter: adapter.NewMemory()}
	benchServer(b, n, Config{Adapter: ca, Recovery: RecoveryConfig{MaxDisconnection: d, Persist: PersistEager}})
	for ca.writes.Load() < n { // the connect-time writes
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	start, w0 := time.Now(), ca.writes.Load()
	for b.Loop() {
		time.Sleep(100 * time.Millisecond)
	}
	for time.Since(start) < 3*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	perSec := float64(ca.writes.Load()-w0) / time.Since(start).Seconds()
	b.ReportMetric(perSec, "writes/s")
	b.ReportMetric(perSec*d.Seconds()/2/n, "writes/socket/refresh")
}

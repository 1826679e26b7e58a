package redis

import (
	"context"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

var benchPacket = &socketio.Packet{Type: socketio.Event,
	Data: []byte(`["chat",{"user":"alice","text":"hello there, how are you doing today?","ts":1700000000123,"n":3.25}]`)}

func BenchmarkEncodeBroadcast(b *testing.B) {
	n, _ := offlineNamespace(b, "sCnX8t", false)
	opts := adapter.Options{Rooms: []string{"room1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := n.encodeClassicBroadcast(benchPacket, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBroadcast(b *testing.B) {
	n, l := offlineNamespace(b, "me0000", false)
	n.AddAll(idSocket("s1"), "s1", "room1")
	src, _ := offlineNamespace(b, "sCnX8t", false)
	_, payload, err := src.encodeClassicBroadcast(benchPacket, adapter.Options{Rooms: []string{"room1"}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		n.onClassicBroadcast("socket.io#/#room1#", "room1#", payload)
		l.pkts, l.opts = l.pkts[:0], l.opts[:0]
	}
}

// BenchmarkPublishReceive measures broadcasts from one adapter delivered by
// another through the test redis-server.
func BenchmarkPublishReceive(b *testing.B) {
	as := newTestAdapters(b, 2, func(c *Config) { c.Logger = nil })
	sender, err := as[0].Namespace(&countLocal{})
	if err != nil {
		b.Fatal(err)
	}
	recvLocal := &countLocal{}
	receiver, err := as[1].Namespace(recvLocal)
	if err != nil {
		b.Fatal(err)
	}
	receiver.AddAll(idSocket("s1"), "s1", "room1")
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, _ := sender.ServerCount(ctx); c == 2 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("no second node")
		}
	}
	opts := adapter.Options{Rooms: []string{"room1"}}
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for i := 0; i < b.N; i++ {
		_ = sender.Broadcast(ctx, benchPacket, opts)
		sent++
		// Keep the queue from overflowing: the point is throughput, not drops.
		if sent-recvLocal.count("chat") > 4000 {
			for sent-recvLocal.count("chat") > 1000 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); recvLocal.count("chat") < sent; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", recvLocal.count("chat"), sent)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}

package redis

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// countLocal counts deliveries by event name.
type countLocal struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *countLocal) Name() string { return "/" }
func (l *countLocal) Deliver(pkt *socketio.Packet, _ adapter.Flags, to iter.Seq[adapter.Socket]) {
	for range to {
		var arr []json.RawMessage
		_ = json.Unmarshal(pkt.Data, &arr)
		l.mu.Lock()
		if l.counts == nil {
			l.counts = map[string]int{}
		}
		l.counts[strings.Trim(string(arr[0]), `"`)]++
		l.mu.Unlock()
	}
}
func (l *countLocal) DeliverWithAck(context.Context, *socketio.Packet, adapter.Flags, iter.Seq[adapter.Socket], func(*socketio.Packet)) int {
	return 0
}
func (l *countLocal) Info(s adapter.Socket) adapter.SocketInfo              { return adapter.SocketInfo{ID: s.ID()} }
func (l *countLocal) Disconnect(adapter.Socket, bool)                       {}
func (l *countLocal) ServerSideEmit(json.RawMessage, func(json.RawMessage)) {}

func (l *countLocal) count(ev string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[ev]
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRedisRestart kills redis-server during a stream of broadcasts and
// starts it again on the same port.
func TestRedisRestart(t *testing.T) {
	needRedis(t)
	srv := redistest.Start(t) // a server of its own, to kill and restart

	key := uniqueKey(t)
	locals := []*countLocal{{}, {}}
	var nsps []adapter.Namespace
	var as []*Adapter
	for i := range locals {
		a, err := New(Config{URL: srv.URL(), Key: key, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		n, err := a.Namespace(locals[i])
		if err != nil {
			t.Fatal(err)
		}
		n.AddAll(idSocket("s"+string(rune('0'+i))), "s"+string(rune('0'+i)))
		nsps = append(nsps, n)
		as = append(as, a)
	}
	ctx := context.Background()
	waitUntil(t, 5*time.Second, "two subscribers", func() bool { n, _ := nsps[0].ServerCount(ctx); return n == 2 })

	var phase atomic.Value
	phase.Store("before")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ev := phase.Load().(string)
			_ = nsps[0].Broadcast(ctx, &socketio.Packet{Type: socketio.Event, Data: []byte(`["` + ev + `"]`)}, adapter.Options{})
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	waitUntil(t, 5*time.Second, "cross-node delivery", func() bool { return locals[1].count("before") > 10 })
	srv.Stop()
	phase.Store("down")
	waitUntil(t, 5*time.Second, "local delivery while Redis is down", func() bool { return locals[0].count("down") > 20 })
	waitUntil(t, 5*time.Second, "degraded health", func() bool { return as[0].Health() != nil && as[1].Health() != nil })
	waitUntil(t, 10*time.Second, "publish failures counted", func() bool {
		st := as[0].Stats()
		return st.PublishErrors+st.PublishDropped > 0
	})

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	phase.Store("after")
	waitUntil(t, 5*time.Second, "cross-node delivery after restart", func() bool { return locals[1].count("after") > 10 })
	t.Logf("cross-node delivery resumed %v after restart", time.Since(restarted).Round(time.Millisecond))
	waitUntil(t, 5*time.Second, "healthy again", func() bool { return as[0].Health() == nil && as[1].Health() == nil })
	// And the other way round.
	waitUntil(t, 5*time.Second, "delivery from the other node", func() bool {
		_ = nsps[1].Broadcast(ctx, &socketio.Packet{Type: socketio.Event, Data: []byte(`["from-b"]`)}, adapter.Options{})
		return locals[0].count("from-b") > 0
	})
	t.Logf("stats of the publishing node: %+v", as[0].Stats())
}

// TestBadInput publishes hostile payloads on every channel: each is counted
// and ignored, and good messages still arrive.
func TestBadInput(t *testing.T) {
	s := needRedis(t)
	a := newTestAdapters(t, 1, func(c *Config) { c.MaxMessageSize = 1 << 16 })[0]
	local := &countLocal{}
	n, err := a.Namespace(local)
	if err != nil {
		t.Fatal(err)
	}
	n.AddAll(idSocket("s1"), "s1", "room1")
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr()})
	defer c.Close()
	ctx := context.Background()
	key := a.cfg.Key
	bad := []struct{ channel, payload string }{
		{key + "#/#", "\xc1"},      // reserved byte
		{key + "#/#", "\x93\xa1x"}, // truncated
		{key + "#/#", "\x93\xa1x\x83\xa4type\x03\xa4data\x90\xa3nsp\xa1/\x80"}, // packet type 3
		{key + "#/#room1#", "\xdd\xff\xff\xff\xff"},                            // absurd array length
		{key + "#/#", strings.Repeat("x", 1<<17)},                              // oversized
		{key + "-request#/#", `{"type":`},                                      // bad JSON
		{key + "-request#/#", `{"uid":"x","type":99}`},                         // unknown type
		{key + "-request#/#", "\x81\xa4type\xc1"},                              // bad msgpack
		{key + "-response#/#", `[]`},                                           // not an object
	}
	for _, b := range bad {
		if err := c.Publish(ctx, b.channel, b.payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_, good, _ := (&namespace{a: &Adapter{uid: "other0"}, name: "/"}).encodeClassicBroadcast(
		&socketio.Packet{Type: socketio.Event, Data: []byte(`["good"]`)}, adapter.Options{})
	if err := c.Publish(ctx, key+"#/#", good).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "good message", func() bool { return local.count("good") == 1 })
	waitUntil(t, 5*time.Second, "all bad messages counted", func() bool {
		total := uint64(0)
		for _, v := range a.Stats().Malformed {
			total += v
		}
		return total == uint64(len(bad))
	})
	t.Logf("malformed: %v", a.Stats().Malformed)
}

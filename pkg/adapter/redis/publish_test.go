package redis

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for a slog handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// offlinePublisher is a publisher whose queue nobody drains (Redis stuck).
func offlinePublisher(t *testing.T, cfg Config) (*publisher, *syncBuffer) {
	t.Helper()
	cfg.URL = "redis://127.0.0.1:1"
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a := &Adapter{cfg: cfg, log: slog.New(slog.NewTextHandler(logs, nil))}
	a.stats.init()
	a.pub.init(a)
	return &a.pub, logs
}

// TestPublishQueueBytes: the publish queue is bounded by bytes, not only by
// count: big messages are dropped beyond the budget, counted, and logged
// once per episode.
func TestPublishQueueBytes(t *testing.T) {
	const mib = 1 << 20
	payload := make([]byte, mib) // shared: the test itself stays small
	tests := []struct {
		name     string
		cfg      Config
		payload  []byte
		enqueue  int
		accepted int
	}{
		{"default budget 64 MiB", Config{}, payload, 100, 64},
		{"configured budget", Config{PublishQueueBytes: 4 * mib}, payload, 10, 4},
		{"count still bounds small messages", Config{PublishQueueSize: 8}, []byte("x"), 20, 8},
		{"one oversized message passes an empty queue", Config{PublishQueueBytes: mib / 2}, payload, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs := offlinePublisher(t, tt.cfg)
			accepted := 0
			for i := 0; i < tt.enqueue; i++ {
				if p.enqueue(pubItem{channel: "c", payload: tt.payload}) {
					accepted++
				}
			}
			if accepted != tt.accepted {
				t.Errorf("accepted %d of %d, want %d", accepted, tt.enqueue, tt.accepted)
			}
			if got, want := p.a.Stats().PublishDropped, uint64(tt.enqueue-tt.accepted); got != want {
				t.Errorf("PublishDropped = %d, want %d", got, want)
			}
			if n := strings.Count(logs.String(), "publish queue full"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logs)
			}

			// Drain as the publisher goroutine does: the budget comes back
			// and the next episode is logged again.
			var batch []pubItem
			for len(p.queue) > 0 {
				batch = append(batch, <-p.queue)
			}
			p.release(batch)
			if b := p.bytes.Load(); b != 0 {
				t.Errorf("%d bytes still counted after the drain", b)
			}
			for i := 0; i < tt.enqueue; i++ {
				p.enqueue(pubItem{channel: "c", payload: tt.payload})
			}
			if n := strings.Count(logs.String(), "publish queue full"); n != 2 {
				t.Errorf("logged %d times after a second episode, want 2", n)
			}
		})
	}
}

package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSlowConsumers is the CI-sized slow-consumer check (loadtest/slow.sh
// is the full-sized benchmark, with latencies): readers and stalled members
// share a room; every broadcast reaches every reader, in order, while the
// gateway closes each stalled member once its write queue passes the byte
// limit.
func TestSlowConsumers(t *testing.T) {
	const (
		readers  = 60
		stalled  = 6
		messages = 150
		payload  = 2048
	)
	// A 64 KiB queue holds 32 broadcasts: a stalled member passes it after
	// about 40 (with the kernel's buffers), while a reader may fall behind
	// by 600 ms (a loaded machine under -race) without being taken for one.
	g, addr := serveGateway(t, Config{WriteQueueBytes: 64 << 10, TCPSendBuffer: 8 << 10})
	url := "ws://" + addr + "/socket.io/?EIO=4&transport=websocket"

	// Stalled members: a small receive buffer, and nobody reads.
	small := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = setReceiveBuffer(fd, 4096) })
		},
	}).DialContext}}
	for range stalled {
		c := joinSlow(t, url, small)
		_ = c // never read again
	}

	type result struct {
		got      int
		worstGap time.Duration
		err      error
	}
	results := make(chan result, readers)
	var wg sync.WaitGroup
	for range readers {
		c := joinSlow(t, url, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r result
			var last time.Time
			for r.got < messages {
				rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, b, err := c.Read(rctx)
				cancel()
				if err != nil {
					r.err = err
					break
				}
				if string(b) == "2" {
					_ = c.Write(context.Background(), websocket.MessageText, []byte("3"))
					continue
				}
				if !strings.HasPrefix(string(b), `42["tick",`) {
					continue
				}
				if want := fmt.Sprintf(`42["tick",%d,`, r.got); !strings.HasPrefix(string(b), want) {
					r.err = fmt.Errorf("got %.20q, want %q", b, want)
					break
				}
				now := time.Now()
				if r.got > 0 {
					r.worstGap = max(r.worstGap, now.Sub(last))
				}
				last = now
				r.got++
			}
			results <- r
		}()
	}

	pad := strings.Repeat("x", payload)
	room := g.Server().Sockets().To("slow")
	for i := range messages {
		if err := room.Emit("tick", i, pad); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || r.got != messages {
			t.Errorf("reader got %d of %d: %v", r.got, messages, r.err)
		}
		// A loose bound: under -race on a shared machine readers stall for
		// hundreds of milliseconds with no stalled member at all. The
		// latency comparison is loadtest/slow.sh's.
		if r.worstGap > 2*time.Second {
			t.Errorf("a reader waited %v between two broadcasts", r.worstGap)
		}
	}
	waitFor(t, 10*time.Second, "every stalled member closed as a slow consumer", func() bool {
		return g.io.EngineStats().SlowConsumerCloses == stalled
	})
	if n := g.io.Stats().Sockets; n != readers {
		t.Errorf("%d sockets left, want the %d readers", n, readers)
	}
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), fmt.Sprintf("sockgate_engineio_slow_consumer_closes_total %d", stalled)) {
		t.Errorf("/metrics does not count %d slow consumers", stalled)
	}
}

// joinSlow connects a websocket client to "/" and joins room "slow".
func joinSlow(t *testing.T, url string, hc *http.Client) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	for _, step := range []struct{ send, want string }{{"", "0{"}, {"40", "40{"}, {`421["join","slow"]`, `431[true]`}} {
		if step.send != "" {
			if err := c.Write(ctx, websocket.MessageText, []byte(step.send)); err != nil {
				t.Fatal(err)
			}
		}
		_, b, err := c.Read(ctx)
		if err != nil || !strings.HasPrefix(string(b), step.want) {
			t.Fatalf("after %q: %q, %v; want %q", step.send, b, err, step.want)
		}
	}
	return c
}

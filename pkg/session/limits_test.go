package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// witness is a client in room "witness" that a ticker broadcasts to every
// 20 ms while a limit is being abused; check verifies that every tick
// arrived in order and no two more than maxWitnessGap apart.
// maxWitnessGap is the longest pause between two ticks that check accepts:
// well below the abuse the tests keep up (the event-rate flood lasts
// RateLimitGrace, 3 s), well above a scheduling hiccup of a loaded machine
// running every package's tests under -race at once.
const maxWitnessGap = time.Second

type witness struct {
	t    *testing.T
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	sent     int
	received int
	worstGap time.Duration
	bad      string
}

func startWitness(t *testing.T, s *Server, url string, socks <-chan *Socket) *witness {
	t.Helper()
	c := dialWS(t, url)
	c.send("0")
	c.expectPrefix(`0{"sid":"`)
	(<-socks).Join("witness")
	w := &witness{t: t, stop: make(chan struct{})}
	w.wg.Add(2)
	go func() { // the broadcaster
		defer w.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.mu.Lock()
				n := w.sent
				w.sent++
				w.mu.Unlock()
				s.To("witness").Emit("tick", n)
			}
		}
	}()
	go func() { // the receiver
		defer w.wg.Done()
		var last time.Time
		for m := range c.msgs {
			if !strings.HasPrefix(m.data, `2["tick",`) {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			if want := fmt.Sprintf(`2["tick",%d]`, w.received); m.data != want && w.bad == "" {
				w.bad = fmt.Sprintf("got %s, want %s", m.data, want)
			}
			if !last.IsZero() {
				w.worstGap = max(w.worstGap, now.Sub(last))
			}
			w.received++
			w.mu.Unlock()
			last = now
		}
	}()
	t.Cleanup(func() {
		select {
		case <-w.stop:
		default:
			close(w.stop)
		}
		c.ws.CloseNow()
		w.wg.Wait()
	})
	return w
}

func (w *witness) check() {
	w.t.Helper()
	waitFor(w.t, "a few ticks", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.sent >= 5
	})
	close(w.stop)
	waitFor(w.t, "the witness to receive every tick", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.received == w.sent
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bad != "" {
		w.t.Errorf("witness: %s", w.bad)
	}
	if w.worstGap > maxWitnessGap {
		w.t.Errorf("witness: %v between two broadcasts", w.worstGap)
	}
}

// waitGoroutines waits until the process is back to at most base goroutines
// (plus a little slack for the runtime's own).
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base+2 })
}

func TestLimitsE2E(t *testing.T) {
	t.Run("max acks", func(t *testing.T) {
		s, url := newE2E(t, Config{MaxAcks: 2})
		socks := make(chan *Socket, 4)
		s.OnConnection(func(so *Socket) { socks <- so })
		w := startWitness(t, s, url, socks)
		base := runtime.NumGoroutine()

		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		so := <-socks
		ctx, cancel := context.WithCancel(t.Context())
		errs := make(chan error, 2)
		for range 2 { // the client never answers these two
			go func() { _, err := so.EmitWithAck(ctx, "q"); errs <- err }()
		}
		waitFor(t, "two acks pending", func() bool { return s.Stats().AcksPending == 2 })
		start := time.Now()
		if _, err := so.EmitWithAck(t.Context(), "q"); !errors.Is(err, ErrTooManyAcks) {
			t.Fatalf("third EmitWithAck: %v, want ErrTooManyAcks", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("the refusal took %v", d)
		}
		if got := s.Stats().AcksRefused; got != 1 {
			t.Errorf("AcksRefused = %d", got)
		}
		cancel()
		for range 2 {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("pending EmitWithAck: %v", err)
			}
		}
		// Given up acks free their slots.
		short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancelShort()
		if _, err := so.EmitWithAck(short, "q"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("EmitWithAck after the others gave up: %v", err)
		}
		c.ws.CloseNow()
		waitGoroutines(t, base)
		w.check()
	})

	t.Run("max namespaces", func(t *testing.T) {
		s, url := newE2E(t, Config{MaxNamespaces: 2})
		s.Of("/a")
		s.Of("/b")
		socks := make(chan *Socket, 4)
		s.OnConnection(func(so *Socket) { socks <- so })
		w := startWitness(t, s, url, socks)
		base := runtime.NumGoroutine()

		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		c.send("0/a,")
		c.expectPrefix(`0/a,{"sid":"`)
		c.send("0/b,")
		c.expect(`4/b,{"message":"Too many namespaces"}`)
		c.send("1/a,") // leaving one makes room for another
		c.send("0/b,")
		c.expectPrefix(`0/b,{"sid":"`)
		if st := s.Stats(); st.NamespacesRefused != 1 || st.ConnectErrors != 1 {
			t.Errorf("NamespacesRefused = %d, ConnectErrors = %d", st.NamespacesRefused, st.ConnectErrors)
		}
		c.ws.CloseNow()
		waitGoroutines(t, base)
		w.check()
	})

	t.Run("event rate", func(t *testing.T) {
		var rs reasons
		s, url := newE2E(t, Config{EventRate: 50, EventBurst: 10})
		socks := make(chan *Socket, 4)
		s.OnConnection(func(so *Socket) {
			so.OnDisconnect(rs.hook)
			so.On("spam", func(*Socket, *Event) {})
			socks <- so
		})
		w := startWitness(t, s, url, socks)
		base := runtime.NumGoroutine()

		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id := (<-socks).ID()
		start := time.Now()
		flood := time.NewTicker(2 * time.Millisecond) // ~500/s, 10 x the rate
		defer flood.Stop()
		for rs.get(id) == "" && time.Since(start) < 10*time.Second {
			<-flood.C
			_ = c.ws.Write(t.Context(), websocket.MessageText, []byte(`42["spam"]`))
		}
		took := time.Since(start)
		rs.wait(t, id, ReasonRateLimited)
		if took < RateLimitGrace || took > RateLimitGrace+3*time.Second {
			t.Errorf("disconnected after %v, want about %v", took, RateLimitGrace)
		}
		c.expect("1") // DISCONNECT, then the connection closes: no socket is left on it
		c.waitClosed()
		if st := s.Stats(); st.RateLimited != 1 || st.EventsDropped == 0 {
			t.Errorf("RateLimited = %d, EventsDropped = %d", st.RateLimited, st.EventsDropped)
		}
		waitGoroutines(t, base)
		w.check()
	})
}

func (r *reasons) get(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/client"
	"github.com/sockgate/sockgate/loadtest/internal/hist"
)

// FanoutResult reports one publisher's messages delivered to a room.
type FanoutResult struct {
	Receivers        int            `json:"receivers"`
	Sent             int64          `json:"sent"`
	SendSeconds      float64        `json:"send_s"`
	TargetRate       float64        `json:"target_rate_per_s"`
	Expected         int64          `json:"expected"`
	Delivered        int64          `json:"delivered"` // unique (receiver, seq) pairs
	Lost             int64          `json:"lost"`
	Duplicated       int64          `json:"duplicated"`
	Foreign          int64          `json:"foreign,omitempty"` // messages not from this run's publisher
	Seconds          float64        `json:"seconds"`           // first send to last delivery
	DeliveriesPerSec float64        `json:"deliveries_per_s"`
	Latency          hist.Summary   `json:"latency"`
	Connect          *ConnectResult `json:"connect"`
	Stalled          *StalledResult `json:"stalled,omitempty"`
}

// StalledResult reports the members that stopped reading (-stalled) and
// how many of them the server closed as slow consumers (its
// sockgate_engineio_slow_consumer_closes_total over the run; a stalled
// client reads nothing, so it cannot tell by itself).
type StalledResult struct {
	Members      int     `json:"members"`
	ServerCloses float64 `json:"server_slow_consumer_closes"`
}

// fanout is the state shared by a fan-out's receivers and its publisher.
// Each message carries [seq, ts, padding]: ts is nanoseconds since start on
// the generator's monotonic clock, small enough to survive a round trip
// through a JavaScript number.
type fanout struct {
	start    time.Time
	maxSeq   int64
	latency  hist.Histogram
	unique   atomic.Int64
	dups     atomic.Int64
	foreign  atomic.Int64
	lastRecv atomic.Int64 // ns since start
}

// receiver tracks which sequence numbers one client has seen. Its handler
// runs on that client's read goroutine only.
type receiver struct {
	f    *fanout
	seen []uint64 // bitset over seq
}

func (f *fanout) newReceiver() *receiver {
	return &receiver{f: f, seen: make([]uint64, (f.maxSeq+63)/64)}
}

func (r *receiver) onEvent(name string, args [][]byte) {
	if name != "message" {
		return
	}
	now := time.Since(r.f.start)
	if len(args) < 2 {
		r.f.foreign.Add(1)
		return
	}
	seq, err1 := strconv.ParseInt(string(args[0]), 10, 64)
	ts, err2 := strconv.ParseInt(string(args[1]), 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || seq >= r.f.maxSeq {
		r.f.foreign.Add(1)
		return
	}
	w, bit := seq/64, uint64(1)<<(seq%64)
	if r.seen[w]&bit != 0 {
		r.f.dups.Add(1)
		return
	}
	r.seen[w] |= bit
	r.f.unique.Add(1)
	r.f.latency.Record(int64(now) - ts)
	for {
		last := r.f.lastRecv.Load()
		if int64(now) <= last || r.f.lastRecv.CompareAndSwap(last, int64(now)) {
			break
		}
	}
}

// fanoutRun is a running fan-out: receivers joined to the room and a
// publisher. churn reuses it.
type fanoutRun struct {
	cfg       Config
	d         *dialer
	f         *fanout
	receivers []*client.Client
	publisher *client.Client
	sent      atomic.Int64
	connect   *ConnectResult
}

// setupFanout connects cfg.N receivers that join cfg.Room, then the publisher.
func setupFanout(ctx context.Context, cfg Config, d *dialer, maxSeq int) (*fanoutRun, error) {
	r := &fanoutRun{cfg: cfg, d: d, f: &fanout{start: time.Now(), maxSeq: int64(maxSeq)}}
	start := time.Now()
	r.receivers = d.openAll(ctx, cfg.N, func(int) client.Options {
		return client.Options{OnEvent: r.f.newReceiver().onEvent}
	}, joinRoom(cfg.Room))
	r.connect = d.connectResult(cfg.N, time.Since(start))
	// The publisher is in the room too (so its message goes to the room, as
	// the built-in `message` does for a socket in rooms), on the first node.
	pub, err := d.dial(ctx, 0, client.Options{})
	if err != nil {
		closeAll(r.receivers)
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if err := joinRoom(cfg.Room)(ctx, 0, pub); err != nil {
		pub.Abort()
		closeAll(r.receivers)
		return nil, fmt.Errorf("publisher: %w", err)
	}
	r.publisher = pub
	return r, nil
}

// publish sends count messages at rate per second (0: as fast as possible).
func (r *fanoutRun) publish(ctx context.Context, count int, rate float64) {
	pad := padding(r.cfg.Payload)
	start := time.Now()
	var buf1, buf2 []byte
	for seq := range count {
		if rate > 0 {
			due := start.Add(time.Duration(float64(seq) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 && !sleepCtx(ctx, wait) {
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		buf1 = strconv.AppendInt(buf1[:0], int64(seq), 10)
		buf2 = strconv.AppendInt(buf2[:0], int64(time.Since(r.f.start)), 10)
		if err := r.publisher.Emit(ctx, "message", buf1, buf2, pad); err != nil {
			r.d.noteError(fmt.Errorf("publish: %w", err))
			return
		}
		r.sent.Add(1)
	}
}

// waitDelivered waits until every sent message reached every receiver, or
// cfg.Drain passes without progress, or ctx is done.
func (r *fanoutRun) waitDelivered(ctx context.Context, receivers int) {
	want := r.sent.Load() * int64(receivers)
	last, lastChange := r.f.unique.Load(), time.Now()
	for r.f.unique.Load() < want && ctx.Err() == nil {
		if n := r.f.unique.Load(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > r.cfg.Drain {
			return
		}
		sleepCtx(ctx, 5*time.Millisecond)
	}
}

func (r *fanoutRun) result(sendStart time.Time, sendDur time.Duration, rate float64) *FanoutResult {
	sent := r.sent.Load()
	expected := sent * int64(len(r.receivers))
	unique := r.f.unique.Load()
	elapsed := time.Duration(r.f.lastRecv.Load()) - sendStart.Sub(r.f.start)
	return &FanoutResult{
		Receivers:        len(r.receivers),
		Sent:             sent,
		SendSeconds:      sendDur.Seconds(),
		TargetRate:       rate,
		Expected:         expected,
		Delivered:        unique,
		Lost:             expected - unique,
		Duplicated:       r.f.dups.Load(),
		Foreign:          r.f.foreign.Load(),
		Seconds:          elapsed.Seconds(),
		DeliveriesPerSec: ratio(float64(unique), elapsed.Seconds()),
		Latency:          r.f.latency.Summarize(),
		Connect:          r.connect,
	}
}

func (r *fanoutRun) close() {
	all := append([]*client.Client{r.publisher}, r.receivers...)
	closeAll(all)
}

func (r *fanoutRun) progressLine() string {
	return fmt.Sprintf("fanout: receivers %d, sent %d, delivered %d, dup %d, p99 %.2f ms",
		len(r.receivers), r.sent.Load(), r.f.unique.Load(), r.f.dups.Load(), float64(r.f.latency.Quantile(0.99))/1e6)
}

// runFanout: cfg.N receivers in one room, cfg.Messages messages at cfg.Rate.
func runFanout(ctx context.Context, cfg Config, sum *Summary) {
	pr := newProbe(cfg)
	d := newDialer(cfg, cfg.N+1+cfg.Stalled)
	var mu sync.Mutex
	var run *fanoutRun
	stop := progress(ctx, cfg.Log, cfg.Progress, func() string {
		mu.Lock()
		defer mu.Unlock()
		if run == nil {
			return fmt.Sprintf("fanout: joining %d/%d, %d failed", d.ok.Load(), cfg.N, d.failed.Load())
		}
		return run.progressLine()
	})
	defer stop()

	r, err := setupFanout(ctx, cfg, d, cfg.Messages)
	if err != nil {
		d.noteError(err)
		sum.Errors = d.errorSample()
		return
	}
	mu.Lock()
	run = r
	mu.Unlock()
	// Members that stop reading once in the room: their TCP windows fill,
	// then their write queues on the server.
	var stalled []*client.Client
	if cfg.Stalled > 0 {
		small := client.SmallReceiveBuffer(4096)
		stalled = d.openAll(ctx, cfg.Stalled, func(int) client.Options {
			return client.Options{HTTPClient: small}
		}, joinRoom(cfg.Room))
		for _, c := range stalled {
			c.StopReading()
		}
		defer closeAll(stalled)
	}
	before := pr.take(ctx)
	sendStart := time.Now()
	r.publish(ctx, cfg.Messages, cfg.Rate)
	sendDur := time.Since(sendStart)
	r.waitDelivered(ctx, len(r.receivers))
	after := pr.take(context.WithoutCancel(ctx))
	sum.Fanout = r.result(sendStart, sendDur, cfg.Rate)
	if cfg.Stalled > 0 {
		st := &StalledResult{Members: len(stalled)}
		if a, b := sumMetric(after, "sockgate_engineio_slow_consumer_closes_total"), sumMetric(before, "sockgate_engineio_slow_consumer_closes_total"); a >= 0 && b >= 0 {
			st.ServerCloses = a - b
		}
		sum.Fanout.Stalled = st
	}
	cost := pr.cost(before, after, before, after, "delivery", float64(sum.Fanout.Delivered), 0)
	sum.Server = &cost
	r.close()
	sum.Client = d.clientCounters()
	sum.Errors = d.errorSample()
}

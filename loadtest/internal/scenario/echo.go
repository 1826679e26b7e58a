package scenario

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/client"
	"github.com/sockgate/sockgate/loadtest/internal/hist"
)

// EchoResult reports request/ack round trips through the built-in echo.
type EchoResult struct {
	Clients    int            `json:"clients"`
	Requests   int64          `json:"requests"` // acked
	Errors     int64          `json:"errors"`
	Mismatched int64          `json:"mismatched"` // acks whose args differ from the request
	Seconds    float64        `json:"seconds"`
	RatePerSec float64        `json:"rate_per_s"`
	TargetRate float64        `json:"target_rate_per_s,omitempty"`
	RoundTrip  hist.Summary   `json:"rtt"`
	Connect    *ConnectResult `json:"connect"`
}

// runEcho: cfg.Clients clients each send `echo` with an ack, one at a time
// (closed loop) or paced to share cfg.Rate, for cfg.Duration.
func runEcho(ctx context.Context, cfg Config, sum *Summary) {
	pr := newProbe(cfg)
	d := newDialer(cfg, cfg.Clients)
	var rtt hist.Histogram
	var done, errs, mismatched atomic.Int64
	stop := progress(ctx, cfg.Log, cfg.Progress, func() string {
		return fmt.Sprintf("echo: clients %d, acked %d, errors %d, p99 %.2f ms",
			d.ok.Load(), done.Load(), errs.Load(), float64(rtt.Quantile(0.99))/1e6)
	})
	defer stop()

	start := time.Now()
	clients := d.openAll(ctx, cfg.Clients, nil, nil)
	connect := d.connectResult(cfg.Clients, time.Since(start))
	pad := padding(cfg.Payload)

	before := pr.take(ctx)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	runStart := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoLoop(runCtx, c, i, len(clients), cfg.Rate, pad, &rtt, &done, &errs, &mismatched)
		}()
	}
	wg.Wait()
	elapsed := time.Since(runStart)
	after := pr.take(context.WithoutCancel(ctx))
	sum.Echo = &EchoResult{
		Clients:    len(clients),
		Requests:   done.Load(),
		Errors:     errs.Load(),
		Mismatched: mismatched.Load(),
		Seconds:    elapsed.Seconds(),
		RatePerSec: ratio(float64(done.Load()), elapsed.Seconds()),
		TargetRate: cfg.Rate,
		RoundTrip:  rtt.Summarize(),
		Connect:    connect,
	}
	cost := pr.cost(before, after, before, after, "request", float64(done.Load()), 0)
	sum.Server = &cost
	closeAll(clients)
	sum.Client = d.clientCounters()
	sum.Errors = d.errorSample()
}

// echoLoop runs one client's requests until ctx is done. With rate > 0 the
// client sends at rate/clients per second, staggered by its index.
func echoLoop(ctx context.Context, c *client.Client, idx, clients int, rate float64, pad []byte,
	rtt *hist.Histogram, done, errs, mismatched *atomic.Int64) {
	var interval time.Duration
	next := time.Now()
	if rate > 0 {
		interval = time.Duration(float64(clients) / rate * float64(time.Second))
		next = next.Add(interval * time.Duration(idx) / time.Duration(clients))
	}
	for seq := 0; ctx.Err() == nil; seq++ {
		if interval > 0 {
			if wait := time.Until(next); wait > 0 && !sleepCtx(ctx, wait) {
				return
			}
			next = next.Add(interval)
		}
		id := strconv.AppendInt(nil, int64(idx)<<32|int64(seq), 10)
		t0 := time.Now()
		args, err := c.Call(ctx, "echo", id, pad)
		if err != nil {
			if ctx.Err() == nil {
				errs.Add(1)
				if errors.Is(err, client.ErrClosed) {
					return
				}
				if sleepCtx(ctx, 100*time.Millisecond) {
					continue
				}
			}
			return
		}
		rtt.RecordDuration(time.Since(t0))
		done.Add(1)
		if len(args) != 2 || string(args[0]) != string(id) || len(args[1]) != len(pad) {
			mismatched.Add(1)
		}
	}
}

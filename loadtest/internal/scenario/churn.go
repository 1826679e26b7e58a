package scenario

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/client"
)

// ChurnResult reports connections opened and closed while a fan-out ran,
// and whether the nodes returned to their baseline afterwards.
type ChurnResult struct {
	Opened          int64         `json:"opened"`
	OpenFailed      int64         `json:"open_failed"`
	ClosedClean     int64         `json:"closed_clean"`  // DISCONNECT + websocket close
	ClosedAbrupt    int64         `json:"closed_abrupt"` // TCP dropped without a close frame
	TargetRate      float64       `json:"target_rate_per_s"`
	Fanout          *FanoutResult `json:"fanout"`
	SocketsBaseline float64       `json:"sockets_baseline"` // -1: no sockets gauge found
	SocketsFinal    float64       `json:"sockets_final"`
	RSSBaseline     int64         `json:"rss_baseline_bytes"`
	RSSFinal        int64         `json:"rss_final_bytes"`
	Goroutines      [2]float64    `json:"go_goroutines_baseline_final,omitempty"`
	SettleSeconds   float64       `json:"settle_s"`
	Leak            bool          `json:"leak"` // sockets gauge did not return to baseline
}

// runChurn runs a fan-out (cfg.N receivers, cfg.Rate messages/s for
// cfg.Duration) while clients connect at cfg.ChurnRate, join the room, live
// cfg.ChurnLife and disconnect, alternately clean and abrupt. Then it waits
// up to cfg.Settle for the nodes' sockets gauge to return to its baseline.
func runChurn(ctx context.Context, cfg Config, sum *Summary) {
	pr := newProbe(cfg)
	churnTotal := int(cfg.ChurnRate * cfg.Duration.Seconds())
	d := newDialer(cfg, cfg.N+1+churnTotal)
	messages := int(cfg.Rate * cfg.Duration.Seconds())
	if cfg.Rate == 0 {
		messages = 0
	}
	res := &ChurnResult{TargetRate: cfg.ChurnRate}
	var mu sync.Mutex
	var run *fanoutRun
	var opened, openFailed, clean, abrupt atomic.Int64
	stop := progress(ctx, cfg.Log, cfg.Progress, func() string {
		mu.Lock()
		defer mu.Unlock()
		if run == nil {
			return fmt.Sprintf("churn: joining %d/%d, %d failed", d.ok.Load(), cfg.N, d.failed.Load())
		}
		return fmt.Sprintf("churn: opened %d (failed %d), closed %d+%d | %s",
			opened.Load(), openFailed.Load(), clean.Load(), abrupt.Load(), run.progressLine())
	})
	defer stop()

	baseline := pr.take(ctx)
	res.SocketsBaseline = pr.sockets(baseline)

	r, err := setupFanout(ctx, cfg, d, max(messages, 1))
	if err != nil {
		d.noteError(err)
		sum.Errors = d.errorSample()
		return
	}
	mu.Lock()
	run = r
	mu.Unlock()

	before := pr.take(ctx)
	sendStart := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.publish(ctx, messages, cfg.Rate)
	}()
	churnCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	churn(ctx, churnCtx, cfg, d, cfg.N+1, &opened, &openFailed, &clean, &abrupt)
	cancel()
	wg.Wait()
	sendDur := time.Since(sendStart)
	r.waitDelivered(ctx, len(r.receivers))
	after := pr.take(context.WithoutCancel(ctx))
	res.Fanout = r.result(sendStart, sendDur, cfg.Rate)
	r.close()

	// Every client of this run is closed: the nodes must come back to baseline.
	settleStart := time.Now()
	final := pr.take(context.WithoutCancel(ctx))
	for pr.sockets(final) > res.SocketsBaseline && time.Since(settleStart) < cfg.Settle && ctx.Err() == nil {
		sleepCtx(ctx, 250*time.Millisecond)
		final = pr.take(context.WithoutCancel(ctx))
	}
	res.SettleSeconds = time.Since(settleStart).Seconds()
	res.SocketsFinal = pr.sockets(final)
	res.Leak = res.SocketsBaseline >= 0 && res.SocketsFinal != res.SocketsBaseline
	mem := pr.cost(before, after, baseline, final, "delivery", float64(res.Fanout.Delivered), 0)
	res.RSSBaseline, res.RSSFinal = mem.RSSBeforeBytes, mem.RSSAfterBytes
	res.Goroutines = [2]float64{sumMetric(baseline, "go_goroutines"), sumMetric(final, "go_goroutines")}
	res.Opened, res.OpenFailed = opened.Load(), openFailed.Load()
	res.ClosedClean, res.ClosedAbrupt = clean.Load(), abrupt.Load()
	sum.Churn = res
	sum.Server = &mem
	sum.Client = d.clientCounters()
	sum.Errors = d.errorSample()
}

// churn opens a client every 1/ChurnRate seconds until window is done; each
// joins the room, lives ChurnLife and closes (even ones clean, odd ones
// abrupt). Handshakes started in the window may finish after it, bounded by
// ctx. It returns once every churning client is closed.
func churn(ctx, window context.Context, cfg Config, d *dialer, first int, opened, failed, clean, abrupt *atomic.Int64) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Concurrency)
	interval := time.Duration(float64(time.Second) / cfg.ChurnRate)
	next := time.Now()
	join := joinRoom(cfg.Room)
	for i := first; ; i++ {
		if wait := time.Until(next); wait > 0 && !sleepCtx(window, wait) {
			break
		}
		next = next.Add(interval)
		select {
		case sem <- struct{}{}:
		case <-window.Done():
		}
		if window.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.dial(ctx, i, client.Options{})
			if err != nil {
				<-sem
				failed.Add(1)
				return
			}
			opened.Add(1)
			jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = join(jctx, i, c)
			cancel()
			<-sem // the slot bounds handshakes, not living clients
			sleepCtx(context.WithoutCancel(ctx), cfg.ChurnLife)
			if i%2 == 0 {
				c.Close()
				clean.Add(1)
			} else {
				c.Abort()
				abrupt.Add(1)
			}
		}()
	}
	wg.Wait()
}

func sumMetric(s sample, name string) float64 {
	total := 0.0
	for _, m := range s.metrics {
		if m == nil {
			return -1
		}
		v, ok := m.Sum(name)
		if !ok {
			return -1
		}
		total += v
	}
	return total
}

package scenario

import (
	"context"
	"fmt"
	"time"
)

// runConnect opens cfg.N connections, holds them for cfg.Hold answering
// pings, and reports the connect rate, handshake latency, the nodes' CPU per
// accepted connection and RSS per connection.
func runConnect(ctx context.Context, cfg Config, sum *Summary) {
	pr := newProbe(cfg)
	d := newDialer(cfg, cfg.N)
	stop := progress(ctx, cfg.Log, cfg.Progress, func() string {
		return fmt.Sprintf("connect: %d/%d connected, %d failed, pings %d",
			d.ok.Load(), cfg.N, d.failed.Load(), d.counters.PingsAnswered.Load())
	})
	defer stop()

	before := pr.take(ctx)
	start := time.Now()
	clients := d.openAll(ctx, cfg.N, nil, nil)
	elapsed := time.Since(start)
	connected := pr.take(ctx)
	sum.Connect = d.connectResult(cfg.N, elapsed)

	holdStart := time.Now()
	sleepCtx(ctx, cfg.Hold)
	sum.Connect.HeldSeconds = time.Since(holdStart).Seconds()
	sum.Connect.AliveAtEnd = alive(clients)
	held := pr.take(context.WithoutCancel(ctx))
	cost := pr.cost(before, connected, before, held, "connection", float64(len(clients)), len(clients))
	sum.Server = &cost

	closeAll(clients)
	sum.Client = d.clientCounters()
	sum.Errors = d.errorSample()
}

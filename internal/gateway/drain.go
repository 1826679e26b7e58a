package gateway

import (
	"context"
	"time"
)

// Drain pacing: connections are closed in steps of about drainBatch
// (Gateway.drainBatch, defaultDrainBatch; tests lower it), at most
// maxDrainSteps steps spread over half the shutdown time (at most
// maxDrainWindow), so that thousands of clients do not reconnect to the rest
// of the cluster in the same instant (nats calls this lame-duck mode).
const (
	defaultDrainBatch = 256
	maxDrainSteps     = 50
	maxDrainWindow    = 30 * time.Second
)

// drain runs after readiness turned false and new sessions are refused. It
// first waits Config.DrainDelay while every connection is served as usual
// (load balancers notice the failing readiness meanwhile), then closes the
// connections in paced steps with CloseConnections: each writes what is
// queued for it, then the clients see "transport close" and reconnect (a
// DISCONNECT packet, as DisconnectSockets sends, would stop them from
// reconnecting). It returns early when ctx ends; Shutdown closes whatever
// is left at once (the clients' randomized reconnection delay spreads
// those).
func (g *Gateway) drain(ctx context.Context) {
	if !sleepCtx(ctx, g.cfg.DrainDelay) {
		return
	}
	n := int(g.io.Stats().Connections)
	if n == 0 {
		return
	}
	drainBatch := g.drainBatch
	if n <= drainBatch {
		g.log.Info("drain: closing connections", "connections", n)
		g.io.CloseConnections(n)
		return
	}
	steps := min((n+drainBatch-1)/drainBatch, maxDrainSteps)
	batch := (n + steps - 1) / steps
	window := g.cfg.ShutdownTimeout
	if dl, ok := ctx.Deadline(); ok {
		window = time.Until(dl)
	}
	interval := min(window/2, maxDrainWindow) / time.Duration(steps)
	start := time.Now()
	g.log.Info("drain: closing connections", "connections", n, "steps", steps, "interval", interval)
	closed := 0
	for i := range steps {
		// Without a drain delay, the first step waits too: load balancers
		// need a moment to stop sending new clients here, or the first batch
		// would reconnect to this node and be refused.
		if (i > 0 || g.cfg.DrainDelay == 0) && !sleepCtx(ctx, interval) {
			return
		}
		k := g.io.CloseConnections(batch)
		closed += k
		if k == 0 {
			break
		}
	}
	g.log.Info("drain: connections closed", "closed", closed, "took", time.Since(start).Round(time.Millisecond))
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

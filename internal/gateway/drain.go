package gateway

import (
	"context"
	"time"
)

// Drain pacing: connections are closed in steps of about drainBatch, at most
// maxDrainSteps steps spread over half the shutdown time (at most
// maxDrainWindow), so that thousands of clients do not reconnect to the rest
// of the cluster in the same instant (nats calls this lame-duck mode).
const (
	drainBatch     = 256
	maxDrainSteps  = 50
	maxDrainWindow = 30 * time.Second
)

// drain closes the connections in paced steps, with CloseConnections: the
// clients see "transport close" and reconnect (a DISCONNECT packet, as
// DisconnectSockets sends, would stop them from reconnecting).
// It returns early when ctx ends; Shutdown closes whatever is left at once
// (the clients' randomized reconnection delay spreads those).
func (g *Gateway) drain(ctx context.Context) {
	n := int(g.io.Stats().Connections)
	if n <= drainBatch {
		return // few enough to close at once
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
	for range steps {
		// Every step waits first, the first one too: readiness has just
		// turned false and load balancers need a moment to stop sending new
		// clients here, or the first batch would reconnect to this node and
		// be refused.
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
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

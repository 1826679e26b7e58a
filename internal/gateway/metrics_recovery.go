package gateway

import (
	"github.com/sockgate/sockgate/internal/metrics"
	redisadapter "github.com/sockgate/sockgate/pkg/adapter/redis"
	"github.com/sockgate/sockgate/pkg/session"
)

// registerRecoveryMetrics exports connection state recovery (zeros while it
// is off) and, with a Redis adapter, the stream of the streams format (zeros
// with the others).
func (g *Gateway) registerRecoveryMetrics() {
	{
		type S = session.RecoveryStats
		g.reg.MustRegister(metrics.NewCollector(g.io.RecoveryStats,
			metrics.Counter("sockgate_recovery_attempts_total", "Namespace connections that asked to recover a session (pid and offset).",
				func(s S) float64 { return float64(s.Attempts) }),
			metrics.CounterVec("sockgate_recovery_outcomes_total", "Recovery attempts by outcome: recovered, unknown_session, offset_trimmed, expired, invalid, error.",
				[]string{"reason"},
				func(s S, emit func(float64, ...string)) {
					for reason, n := range s.Outcomes {
						emit(float64(n), reason)
					}
				}),
			metrics.Counter("sockgate_recovery_sessions_stored_total", "Recovery sessions written to the store (on close, eager or at a drain).",
				func(s S) float64 { return float64(s.Stored) }),
			metrics.Counter("sockgate_recovery_replayed_packets_total", "Missed packets sent to recovered sockets.",
				func(s S) float64 { return float64(s.Replayed) }),
		))
	}
	ra, ok := g.adapter.(*redisadapter.Adapter)
	if !ok {
		return
	}
	type R = redisadapter.Stats
	g.reg.MustRegister(metrics.NewCollector(ra.Stats,
		metrics.Gauge("sockgate_redis_stream_lag_seconds", "Age of the last stream entry when this node read it (streams adapter; 0 with the others).",
			func(s R) float64 { return s.StreamLag.Seconds() }),
		metrics.Counter("sockgate_redis_stream_entries_total", "Stream entries read, own ones included.",
			func(s R) float64 { return float64(s.StreamEntries) }),
	))
}

package gateway

import (
	"context"
	"errors"

	"github.com/sockgate/sockgate/internal/metrics"
	redisadapter "github.com/sockgate/sockgate/pkg/adapter/redis"
	"github.com/sockgate/sockgate/pkg/forward"
	"github.com/sockgate/sockgate/pkg/histogram"
)

// newForward builds the forwarding node of Config.Forward, with a Redis
// client of its own for the registry.
func (g *Gateway) newForward() error {
	if g.cfg.RedisURL == "" {
		return errors.New("forwarding needs RedisURL (the node registry)")
	}
	rdb, err := redisadapter.NewClient(g.cfg.RedisURL)
	if err != nil {
		return err
	}
	key := g.cfg.RedisKey
	if key == "" {
		key = forward.DefaultKey
	}
	n, err := forward.New(forward.Config{
		Redis:        rdb,
		Key:          key,
		Secret:       []byte(g.cfg.ClusterSecret),
		MaxBodyBytes: g.cfg.MaxPayload,
		Logger:       g.log,
	})
	if err != nil {
		rdb.Close()
		return err
	}
	g.fwd, g.fwdRedis = n, rdb
	return nil
}

func (g *Gateway) closeForward(ctx context.Context) error {
	if g.fwd == nil {
		return nil
	}
	return errors.Join(g.fwd.Close(ctx), g.fwdRedis.Close())
}

// registerForwardMetrics exports the forwarding node's counters.
func (g *Gateway) registerForwardMetrics() {
	if g.fwd == nil {
		return
	}
	type S = forward.Stats
	g.reg.MustRegister(metrics.NewCollector(g.fwd.Stats,
		metrics.CounterVec("sockgate_forwarded_requests_total", "Engine.IO requests for other nodes' sessions, forwarded to them, by kind and result.",
			[]string{"kind", "result"}, func(s S, emit func(float64, ...string)) {
				for _, k := range forward.Kinds() {
					for _, r := range forward.Results() {
						emit(float64(s.Forwarded[k][r]), k.String(), r.String())
					}
				}
			}),
		metrics.HistogramVec("sockgate_forward_duration_seconds", "Time from a request for another node's session to that node's response headers, by kind (a polling GET includes its long-poll wait; a websocket counts until 101).",
			[]string{"kind"}, func(s S, emit func(histogram.Snapshot, ...string)) {
				for _, k := range forward.Kinds() {
					emit(s.Latency[k], k.String())
				}
			}),
		metrics.CounterVec("sockgate_forwarded_received_total", "Requests forwarded to this node by others, by result: accepted, or why they were refused (403).",
			[]string{"result"}, func(s S, emit func(float64, ...string)) {
				emit(float64(s.Accepted), "accepted")
				for _, r := range forward.Rejects() {
					emit(float64(s.Rejected[r]), r.String())
				}
			}),
		metrics.Counter("sockgate_forward_heartbeat_errors_total", "Refreshes of this node's registry entry that Redis failed.",
			func(s S) float64 { return float64(s.HeartbeatErrors) }),
	))
}

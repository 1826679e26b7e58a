package gateway

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/internal/metrics"
	"github.com/sockgate/sockgate/pkg/adapter"
	redisadapter "github.com/sockgate/sockgate/pkg/adapter/redis"
	"github.com/sockgate/sockgate/pkg/histogram"
)

func newRedisAdapter(cfg Config) (adapter.Adapter, error) {
	switch cfg.RedisAdapter {
	case "classic", "sharded", "streams":
	default:
		return nil, fmt.Errorf("unknown Redis adapter format %q (classic, sharded or streams)", cfg.RedisAdapter)
	}
	return redisadapter.New(redisadapter.Config{
		URL:          cfg.RedisURL,
		Key:          cfg.RedisKey,
		Sharded:      cfg.RedisAdapter == "sharded",
		Streams:      cfg.RedisAdapter == "streams",
		StreamMaxLen: int64(cfg.RedisStreamMaxLen),
		Logger:       cfg.Logger,
	})
}

// checkRecovery refuses recovery on a Redis adapter that keeps no history.
func checkRecovery(cfg Config) error {
	if cfg.Recovery.MaxDisconnection > 0 && cfg.Adapter == nil && cfg.RedisURL != "" && cfg.RedisAdapter != "streams" {
		return fmt.Errorf("gateway: recovery needs the streams Redis adapter in a cluster: the %s adapter keeps no history, so sessions cannot move between nodes", cfg.RedisAdapter)
	}
	return nil
}

// registerAdapterMetrics exports the Redis adapter's counters when it is the
// adapter in use.
func (g *Gateway) registerAdapterMetrics() {
	ra, ok := g.adapter.(*redisadapter.Adapter)
	if !ok {
		return
	}
	type S = redisadapter.Stats
	g.reg.MustRegister(metrics.NewCollector(ra.Stats,
		metrics.Gauge("sockgate_redis_healthy", "1 while the adapter is connected to Redis, else 0 (degraded: local delivery only).",
			func(S) float64 { return b2f(ra.Health() == nil) }),
		metrics.Counter("sockgate_redis_published_total", "Messages published to Redis.",
			func(s S) float64 { return float64(s.Published) }),
		metrics.Counter("sockgate_redis_publish_errors_total", "Messages Redis did not take (published while it was failing).",
			func(s S) float64 { return float64(s.PublishErrors) }),
		metrics.Counter("sockgate_redis_publish_dropped_total", "Messages dropped because the publish queue was full.",
			func(s S) float64 { return float64(s.PublishDropped) }),
		metrics.Counter("sockgate_redis_received_total", "Messages read from Redis, own echoes included.",
			func(s S) float64 { return float64(s.Received) }),
		metrics.Counter("sockgate_redis_requests_sent_total", "Cluster requests issued by this node.",
			func(s S) float64 { return float64(s.RequestsSent) }),
		metrics.Counter("sockgate_redis_requests_served_total", "Cluster requests from other nodes served here.",
			func(s S) float64 { return float64(s.RequestsServed) }),
		metrics.Counter("sockgate_redis_request_timeouts_total", "Cluster requests of this node that timed out.",
			func(s S) float64 { return float64(s.RequestTimeouts) }),
		metrics.CounterVec("sockgate_redis_malformed_total", "Messages from Redis rejected, by reason.", []string{"reason"},
			func(s S, emit func(float64, ...string)) {
				for reason, n := range s.Malformed { // every reason, zeros too
					emit(float64(n), reason)
				}
			}),
		metrics.Histogram("sockgate_redis_publish_duration_seconds", "Time of each publish pipeline to Redis (one or more messages) until Redis answered or failed.",
			func(s S) histogram.Snapshot { return s.PublishLatency }),
		metrics.HistogramVec("sockgate_redis_request_duration_seconds", "Time of each cluster request of this node until every node replied or it timed out, by type.", []string{"type"},
			func(s S, emit func(histogram.Snapshot, ...string)) {
				for typ, h := range s.RequestDuration { // every type, from the start
					emit(h, typ)
				}
			}),
	))
}

// SetRedisLogger sends go-redis's own log lines (pool dial failures and the
// like) to log, as warnings of component "go-redis", instead of its
// unstructured default on stderr. go-redis has one logger per process, so
// the command calls this once, before building gateways.
func SetRedisLogger(log *slog.Logger) {
	goredis.SetLogger(redisLogger{log.With("component", "go-redis")})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}

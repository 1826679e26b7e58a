package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
)

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisCluster(t *testing.T) {
	rs := redistest.Start(t)
	url := rs.URL()
	key := "sockgate-test-" + t.Name()
	ga, srvA := newTestGateway(t, Config{RedisURL: url, RedisKey: key})
	gb, srvB := newTestGateway(t, Config{RedisURL: url, RedisKey: key})
	gc, srvC := newTestGateway(t, Config{RedisURL: url, RedisKey: key, ReadyRequiresRedis: true})
	if ga.AdapterName() != "redis" {
		t.Fatalf("AdapterName = %q", ga.AdapterName())
	}
	a, b := dial(t, srvA), dial(t, srvB)
	a.send(`421["join","r"]`)
	a.expect(`431[true]`)
	b.send(`421["join","r"]`)
	b.expect(`431[true]`)
	waitFor(t, 5*time.Second, "the nodes ready", func() bool { return ga.Ready() == nil && gb.Ready() == nil && gc.Ready() == nil })

	// A room message crosses nodes with its exact bytes.
	a.send(`42["message",{"z":1,"a":9007199254740993}]`)
	a.expect(`42["message",{"z":1,"a":9007199254740993}]`)
	b.expect(`42["message",{"z":1,"a":9007199254740993}]`)

	_, body := get(t, srvA.URL+"/metrics", nil)
	for _, want := range []string{`adapter="redis"`, "sockgate_redis_healthy 1", "sockgate_redis_published_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Without Redis the node is degraded: still ready (by default) and
	// live, local delivery goes on, and the outage shows in metrics, in
	// /readyz?verbose and in go-redis's own log lines, which go through slog.
	var redisLogs syncBuffer
	SetRedisLogger(slog.New(slog.NewJSONHandler(&redisLogs, nil)))
	defer SetRedisLogger(slog.New(slog.DiscardHandler))
	rs.Stop()
	waitFor(t, 10*time.Second, "the adapters to report the outage", func() bool {
		return ga.Readiness().Cluster != "ok" && gb.Readiness().Cluster != "ok" && gc.Readiness().Cluster != "ok"
	})
	for _, srv := range []*httptest.Server{srvA, srvB} {
		if resp, body := get(t, srv.URL+"/readyz", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("readyz during the outage: %d %q, want 200 (Redis is not a readiness condition by default)", resp.StatusCode, body)
		}
	}
	if resp, body := get(t, srvC.URL+"/readyz", nil); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "cluster degraded") {
		t.Errorf("readyz with -ready-requires-redis during the outage: %d %q, want 503", resp.StatusCode, body)
	}
	if _, body := get(t, srvA.URL+"/readyz?verbose", nil); !strings.Contains(body, `"ready":true`) || !strings.Contains(body, `"cluster":"degraded: `) {
		t.Errorf("readyz?verbose during the outage: %s", body)
	}
	if _, body := get(t, srvA.URL+"/metrics", nil); !strings.Contains(body, "sockgate_redis_healthy 0") || !strings.Contains(body, "sockgate_ready 1") {
		t.Errorf("metrics during the outage lack sockgate_redis_healthy 0 / sockgate_ready 1")
	}
	if resp, _ := get(t, srvA.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("healthz: %d while Redis is down", resp.StatusCode)
	}
	a.send(`422["message","local"]`)
	a.expectSet(`42["message","local"]`, `432[true]`)
	waitFor(t, 10*time.Second, "a go-redis log line through slog", func() bool {
		return strings.Contains(redisLogs.String(), `"component":"go-redis"`)
	})
	if strings.Contains(redisLogs.String(), "pool.go:") {
		t.Errorf("go-redis's default format leaked: %s", redisLogs.String())
	}

	// Redis comes back: every node is healthy again within a second,
	// without any traffic to notice it.
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	waitFor(t, 5*time.Second, "the adapters to recover", func() bool {
		return ga.Readiness().Cluster == "ok" && gb.Readiness().Cluster == "ok" && gc.Readiness().Cluster == "ok"
	})
	took := time.Since(back)
	t.Logf("health back %v after Redis listened again", took)
	// The bound is one second; the margin is for this loaded machine.
	if took > 1500*time.Millisecond {
		t.Errorf("health came back after %v, want within 1s", took)
	}
	if resp, _ := get(t, srvC.URL+"/readyz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz with -ready-requires-redis after the outage: %d", resp.StatusCode)
	}
	rs.Stop()

	// A real client answers the server's close frame: keep reading.
	go func() {
		for {
			if _, _, err := a.conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ga.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with Redis down: %v (after %v)", err, time.Since(start))
	}
}

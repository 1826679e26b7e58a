package gateway

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

// startRedis runs a throw-away redis-server on a free loopback port, or
// skips the test when redis-server is not installed.
func startRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return "redis://" + fmt.Sprintf("127.0.0.1:%d", port), startRedisOn(t, port)
}

// startRedisOn runs redis-server on port (again, after a stop) and waits
// until it listens.
func startRedisOn(t *testing.T, port int) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (make test installs it)")
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(stop)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, 5*time.Second, "redis-server to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return stop
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
	url, stopRedis := startRedis(t)
	redisPort, _ := strconv.Atoi(url[strings.LastIndexByte(url, ':')+1:])
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
	stopRedis()
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
	stopRedis = startRedisOn(t, redisPort)
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
	stopRedis()

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

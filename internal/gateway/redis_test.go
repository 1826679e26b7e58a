package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startRedis runs a throw-away redis-server on a free loopback port, or
// skips the test when redis-server is not installed.
func startRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (make test installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
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
	return "redis://" + addr, stop
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
	key := "sockgate-test-" + t.Name()
	ga, srvA := newTestGateway(t, Config{RedisURL: url, RedisKey: key})
	gb, srvB := newTestGateway(t, Config{RedisURL: url, RedisKey: key})
	if ga.AdapterName() != "redis" {
		t.Fatalf("AdapterName = %q", ga.AdapterName())
	}
	a, b := dial(t, srvA), dial(t, srvB)
	a.send(`421["join","r"]`)
	a.expect(`431[true]`)
	b.send(`421["join","r"]`)
	b.expect(`431[true]`)
	waitFor(t, 5*time.Second, "both nodes ready", func() bool { return ga.Ready() == nil && gb.Ready() == nil })

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

	// Without Redis the node is degraded: not ready, still live, and local
	// delivery goes on.
	stopRedis()
	waitFor(t, 10*time.Second, "readyz to report the outage", func() bool {
		resp, _ := get(t, srvA.URL+"/readyz", nil)
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if resp, _ := get(t, srvA.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("healthz: %d while Redis is down", resp.StatusCode)
	}
	a.send(`422["message","local"]`)
	a.expectSet(`42["message","local"]`, `432[true]`)

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

package forward

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// redisAddr is the address of this test binary's redis-server ("" without one).
var redisAddr string

// TestMain fails the run when goroutines outlive the tests (every node is
// closed by its test), then stops the test redis-server.
func TestMain(m *testing.M) {
	stop := startRedis()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { stop() }))
}

// startRedis runs a throwaway redis-server on a free loopback port, when
// one is installed.
func startRedis() (stop func()) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return func() {}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return func() {}
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, _ := os.MkdirTemp("", "forward-redis-")
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return func() {}
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for range 200 {
		if c.Ping(context.Background()).Err() == nil {
			redisAddr = addr
			return stop
		}
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "redis-server did not answer on", addr)
	return stop
}

// newRedis returns a client of the test redis-server, or skips the test.
func newRedis(t testing.TB) goredis.UniversalClient {
	t.Helper()
	if redisAddr == "" {
		t.Skip("redis-server not installed (make test installs it)")
	}
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond every 10ms until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

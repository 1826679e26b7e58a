package forward

import (
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
)

// redisAddr is the address of this test binary's redis-server ("" without one).
var redisAddr string

// TestMain fails the run when goroutines outlive the tests (every node is
// closed by its test), then stops the test redis-server.
func TestMain(m *testing.M) {
	stop := startRedis()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { stop() }))
}

// startRedis runs a throwaway redis-server for the whole test binary, when
// one is installed.
func startRedis() (stop func()) {
	s, err := redistest.New()
	if err != nil {
		return func() {}
	}
	if err := s.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return func() {}
	}
	redisAddr = s.Addr()
	return s.Stop
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

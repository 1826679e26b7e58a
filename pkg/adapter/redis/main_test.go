package redis

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
	"github.com/sockgate/sockgate/pkg/adapter"
)

// testServer is the redis-server of this test binary (nil without one).
var testServer *redistest.Server

func TestMain(m *testing.M) {
	if s, err := redistest.New(); err == nil {
		if err := s.Start(); err == nil {
			testServer = s
		} else {
			fmt.Fprintln(os.Stderr, "redis-server:", err)
		}
	}
	code := m.Run()
	if testServer != nil {
		testServer.Stop()
	}
	// The adapter's goroutines (and go-redis's) must all end.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needRedis skips (or fails under CI) without a redis-server.
func needRedis(t testing.TB) *redistest.Server {
	t.Helper()
	if testServer == nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is required under CI")
		}
		t.Skip("redis-server not available")
	}
	return testServer
}

// uniqueKey is a channel prefix of one test.
func uniqueKey(t testing.TB) string {
	return "t" + randomUID(8)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newTestAdapters builds n adapters on the test server sharing one key.
func newTestAdapters(t testing.TB, n int, tweak func(*Config)) []*Adapter {
	t.Helper()
	s := needRedis(t)
	key := uniqueKey(t)
	out := make([]*Adapter, n)
	for i := range out {
		cfg := Config{URL: s.URL(), Key: key, Logger: testLogger(t),
			StreamName: key + "-stream", SessionKeyPrefix: key + ":session:"}
		if tweak != nil {
			tweak(&cfg)
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		out[i] = a
	}
	return out
}

func asAdapters(as []*Adapter) []adapter.Adapter {
	out := make([]adapter.Adapter, len(as))
	for i, a := range as {
		out[i] = a
	}
	return out
}

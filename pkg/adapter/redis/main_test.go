package redis

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/pkg/adapter"
)

// testServer is the redis-server of this test binary (nil without one).
var testServer *redisServer

// redisServer runs a throwaway redis-server on a loopback port.
type redisServer struct {
	bin  string
	port int
	cmd  *exec.Cmd
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() error {
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := s.cmd.Start(); err != nil {
		return err
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	for i := 0; i < 100; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("redis-server on %s did not answer", s.addr())
}

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func TestMain(m *testing.M) {
	if bin, err := exec.LookPath("redis-server"); err == nil {
		port, err := freePort()
		if err == nil {
			s := &redisServer{bin: bin, port: port}
			if err := s.start(); err == nil {
				testServer = s
			} else {
				fmt.Fprintln(os.Stderr, "redis-server:", err)
			}
		}
	}
	code := m.Run()
	if testServer != nil {
		testServer.stop()
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
func needRedis(t testing.TB) *redisServer {
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
		cfg := Config{URL: "redis://" + s.addr(), Key: key, Logger: testLogger(t),
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

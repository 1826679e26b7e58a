package scenario

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/fakeserver"
)

func TestScenarios(t *testing.T) {
	fs := &fakeserver.Server{PingInterval: 50 * time.Millisecond}
	srv1, srv2 := httptest.NewServer(fs), httptest.NewServer(fs) // two "nodes", one shared state
	defer func() { srv1.Close(); srv2.Close(); fs.Wait() }()
	base := Config{
		Nodes:    []string{srv1.URL, srv2.URL},
		PIDs:     []int{os.Getpid()},
		Progress: 100 * time.Millisecond,
	}
	tests := []struct {
		name  string
		cfg   func(Config) Config
		check func(t *testing.T, s *Summary)
	}{
		{"connect", func(c Config) Config { c.N, c.Hold = 40, 200*time.Millisecond; return c }, func(t *testing.T, s *Summary) {
			if s.Connect.Connected != 40 || s.Connect.Failed != 0 || s.Connect.AliveAtEnd != 40 {
				t.Fatalf("connect %+v", s.Connect)
			}
			if s.Client.PingsAnswered == 0 {
				t.Fatal("no pings answered while holding")
			}
			if s.Server.Source != "proc" || s.Server.Op != "connection" || s.Server.Ops != 40 {
				t.Fatalf("server %+v", s.Server)
			}
			// Both "nodes" report the shared server's gauge, so it counts twice.
			if s.Server.SocketsBefore != 0 || s.Server.SocketsAfter != 80 {
				t.Fatalf("sockets gauge %v → %v", s.Server.SocketsBefore, s.Server.SocketsAfter)
			}
		}},
		{"fanout", func(c Config) Config { c.N, c.Messages, c.Rate = 20, 50, 500; return c }, func(t *testing.T, s *Summary) {
			f := s.Fanout
			if f.Receivers != 20 || f.Sent != 50 || f.Expected != 1000 || f.Delivered != 1000 || f.Lost != 0 || f.Duplicated != 0 {
				t.Fatalf("fanout %+v", f)
			}
			if f.Latency.Count != 1000 || f.Latency.Max <= 0 || f.DeliveriesPerSec <= 0 {
				t.Fatalf("latency %+v", f.Latency)
			}
		}},
		{"echo", func(c Config) Config { c.Clients, c.Duration = 4, 300*time.Millisecond; return c }, func(t *testing.T, s *Summary) {
			e := s.Echo
			if e.Clients != 4 || e.Requests == 0 || e.Errors != 0 || e.Mismatched != 0 || e.RoundTrip.Count != uint64(e.Requests) {
				t.Fatalf("echo %+v", e)
			}
		}},
		{"echo paced", func(c Config) Config { c.Clients, c.Duration, c.Rate = 2, 500*time.Millisecond, 40; return c }, func(t *testing.T, s *Summary) {
			if r := s.Echo.Requests; r < 10 || r > 30 {
				t.Fatalf("paced echo sent %d requests, want about 20", r)
			}
		}},
		{"churn", func(c Config) Config {
			c.N, c.Rate, c.Duration, c.ChurnRate, c.ChurnLife, c.Settle = 10, 100, 500*time.Millisecond, 40, 100*time.Millisecond, 3*time.Second
			return c
		}, func(t *testing.T, s *Summary) {
			ch := s.Churn
			if ch.Opened < 10 || ch.OpenFailed != 0 || ch.ClosedClean+ch.ClosedAbrupt != ch.Opened {
				t.Fatalf("churn %+v", ch)
			}
			if ch.Leak || ch.SocketsBaseline != 0 || ch.SocketsFinal != 0 {
				t.Fatalf("sockets %v → %v leak=%v", ch.SocketsBaseline, ch.SocketsFinal, ch.Leak)
			}
			if ch.Fanout.Lost != 0 || ch.Fanout.Duplicated != 0 || ch.Fanout.Sent == 0 {
				t.Fatalf("fanout during churn %+v", ch.Fanout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			name := tt.name
			if name == "echo paced" {
				name = "echo"
			}
			s, err := Run(ctx, name, tt.cfg(base))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Errors) > 0 {
				t.Fatalf("errors: %v", s.Errors)
			}
			tt.check(t, s)
			waitFor(t, func() bool { return fs.Sockets() == 0 })
		})
	}
	if _, err := Run(context.Background(), "nope", base); err == nil {
		t.Fatal("unknown scenario accepted")
	}
}

func TestDetectSocketsMetric(t *testing.T) {
	m := map[string]float64{
		"go_goroutines": 1, "process_open_fds": 3, "sockgate_connections_total": 9,
		`sockgate_sockets{namespace="/"}`: 4, "sockgate_engine_connections": 5,
	}
	if got := detectSocketsMetric(m); got != "sockgate_sockets" {
		t.Fatalf("detected %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

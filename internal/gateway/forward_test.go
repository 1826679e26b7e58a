package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

const testClusterSecret = "gateway-test-cluster-secret"

func TestForwardConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Forward: true, ClusterSecret: testClusterSecret},                            // no Redis
		{Forward: true, RedisURL: "redis://127.0.0.1:1", ClusterSecret: "too short"}, // short secret
	} {
		if g, err := New(cfg); err == nil {
			g.Shutdown(context.Background())
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// serveTestGateway runs a gateway with Serve on a loopback listener until
// the test ends, and returns its base URL.
func serveTestGateway(t *testing.T, cfg Config) (*Gateway, string) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.ShutdownTimeout = 5 * time.Second
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()
	waitFor(t, 5*time.Second, "the gateway to serve", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return g, url
}

func TestForwardAcrossGateways(t *testing.T) {
	redisURL, _ := startRedis(t)
	cfg := Config{RedisURL: redisURL, RedisKey: "sockgate-test-" + t.Name(), Forward: true, ClusterSecret: testClusterSecret}
	_, a := serveTestGateway(t, cfg)
	_, b := serveTestGateway(t, cfg)

	_, body := get(t, a+"/socket.io/?EIO=4&transport=polling", nil)
	open, err := engineio.ParseOpen([]byte(strings.TrimPrefix(body, "0")))
	if err != nil {
		t.Fatalf("handshake %q: %v", body, err)
	}
	viaB := b + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	post := func(payload string) {
		t.Helper()
		resp, err := http.Post(viaB, "text/plain;charset=UTF-8", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != "ok" {
			t.Fatalf("POST via the other node: %d %q", resp.StatusCode, got)
		}
	}
	post("40")
	if _, body := get(t, viaB, nil); !strings.HasPrefix(body, `40{"sid":`) {
		t.Fatalf("GET via the other node: %q", body)
	}
	post(`421["echo","through b"]`)
	if _, body := get(t, viaB, nil); body != `431["through b"]` {
		t.Fatalf("echo via the other node: %q", body)
	}
	post("1") // close, sparing Shutdown the wait for a last GET

	_, metrics := get(t, b+"/metrics", nil)
	for _, want := range []string{
		`sockgate_forwarded_requests_total{kind="polling_post",result="ok"} 3`,
		`sockgate_forwarded_requests_total{kind="polling_get",result="ok"} 2`,
		`sockgate_forward_duration_seconds_count{kind="polling_get"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("node b's metrics lack %q", want)
		}
	}
	_, metrics = get(t, a+"/metrics", nil)
	if want := `sockgate_forwarded_received_total{result="accepted"} 5`; !strings.Contains(metrics, want) {
		t.Errorf("node a's metrics lack %q", want)
	}
}

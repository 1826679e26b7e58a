package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
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

func TestForwardAcrossGateways(t *testing.T) {
	redisURL := redistest.Start(t).URL()
	cfg := Config{RedisURL: redisURL, RedisKey: "sockgate-test-" + t.Name(), Forward: true, ClusterSecret: testClusterSecret}
	_, a := serveGateway(t, cfg)
	_, b := serveGateway(t, cfg)
	a, b = "http://"+a, "http://"+b

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

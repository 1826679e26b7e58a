package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
	"github.com/sockgate/sockgate/pkg/session"
)

// scrape reads /metrics into metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

// value is the counter, gauge or histogram count of the series of family
// name whose labels include the given pairs; -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsWithTraffic checks that every family is exported from the
// start with its known label values, that the metrics move with real
// traffic across two nodes, and that every metric the Grafana dashboard
// queries is exported.
func TestMetricsWithTraffic(t *testing.T) {
	url := redistest.Start(t).URL()
	key := "sockgate-test-" + t.Name()
	ga, srvA := newTestGateway(t, Config{RedisURL: url, RedisKey: key, MaxPayload: 1000})
	gb, srvB := newTestGateway(t, Config{RedisURL: url, RedisKey: key})
	waitFor(t, 5*time.Second, "the nodes ready", func() bool { return ga.Ready() == nil && gb.Ready() == nil })

	// Before any traffic: every family, every known label value, at zero.
	before := scrape(t, srvA.URL)
	zero := []struct {
		name   string
		labels []string
	}{
		{"sockgate_disconnects_total", []string{"reason", "payload_too_large"}},
		{"sockgate_disconnects_total", []string{"reason", "transport_error"}},
		{"sockgate_disconnects_total", []string{"reason", "server_shutdown"}},
		{"sockgate_engineio_closes_total", []string{"reason", "payload too large"}},
		{"sockgate_engineio_errors_total", []string{"kind", "unavailable"}},
		{"sockgate_redis_malformed_total", []string{"reason", "json"}},
		{"sockgate_redis_request_duration_seconds", []string{"type", "fetchSockets"}},
		{"sockgate_redis_request_duration_seconds", []string{"type", "allRooms"}},
		{"sockgate_redis_request_duration_seconds", []string{"type", "serverSideEmit"}},
		{"sockgate_ack_round_trip_seconds", nil},
		{"sockgate_broadcast_fanout", nil},
		{"sockgate_redis_publish_duration_seconds", nil},
		{"sockgate_engineio_slow_consumer_closes_total", nil},
		{"sockgate_draining", nil},
	}
	for _, z := range zero {
		if v := value(before, z.name, z.labels...); v != 0 {
			t.Errorf("before traffic: %s%v = %v, want 0 (present from the start)", z.name, z.labels, v)
		}
	}
	for _, h := range []string{"sockgate_ack_round_trip_seconds", "sockgate_broadcast_fanout", "sockgate_redis_publish_duration_seconds", "sockgate_redis_request_duration_seconds"} {
		if f := before[h]; f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s is not a histogram", h)
		}
	}

	// Traffic: a room across both nodes, an echo, a server-to-client
	// emit with ack, a cluster request, and an oversized message.
	acked := make(chan struct{})
	ga.Server().Sockets().OnConnection(func(s *session.Socket) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := s.EmitWithAck(ctx, "probe"); err == nil {
				close(acked)
			}
		}()
	})
	a := dial(t, srvA)
	_, probe := a.read()
	id := regexp.MustCompile(`^42(\d+)\["probe"\]$`).FindStringSubmatch(probe)
	if id == nil {
		t.Fatalf("probe frame %q", probe)
	}
	a.send("43" + id[1] + "[]")
	<-acked
	b := dial(t, srvB)
	a.send(`421["join","r"]`)
	a.expect(`431[true]`)
	b.send(`421["join","r"]`)
	b.expect(`431[true]`)
	a.send(`42["message","hi"]`)
	a.expect(`42["message","hi"]`)
	b.expect(`42["message","hi"]`)
	a.send(`422["echo",1]`)
	a.expect(`432[1]`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if socks, err := ga.Server().Sockets().FetchSockets(ctx); err != nil || len(socks) < 2 {
		t.Fatalf("FetchSockets: %d sockets, %v", len(socks), err)
	}
	big := dial(t, srvA)
	big.send(`42["message","` + strings.Repeat("x", 1000) + `"]`)
	waitFor(t, 5*time.Second, "the oversized message's disconnect", func() bool {
		return value(scrape(t, srvA.URL), "sockgate_disconnects_total", "reason", "payload_too_large") == 1
	})

	after := scrape(t, srvA.URL)
	moved := []struct {
		name   string
		labels []string
		min    float64
	}{
		{"sockgate_engineio_handshakes_total", nil, 2},
		{"sockgate_packets_received_total", nil, 4},
		{"sockgate_packets_sent_total", nil, 4},
		{"sockgate_broadcasts_total", nil, 1},
		{"sockgate_broadcast_fanout", nil, 1},
		{"sockgate_ack_round_trip_seconds", nil, 1},
		{"sockgate_redis_published_total", nil, 1},
		{"sockgate_redis_publish_duration_seconds", nil, 1},
		{"sockgate_redis_requests_sent_total", nil, 1},
		{"sockgate_redis_request_duration_seconds", []string{"type", "fetchSockets"}, 1},
		{"sockgate_engineio_open", []string{"transport", "websocket"}, 1},
		{"sockgate_disconnects_total", []string{"reason", "payload_too_large"}, 1},
		{"sockgate_engineio_errors_total", []string{"kind", "payload_too_large"}, 1},
	}
	for _, m := range moved {
		if v := value(after, m.name, m.labels...); v < m.min {
			t.Errorf("after traffic: %s%v = %v, want >= %v", m.name, m.labels, v, m.min)
		}
	}
	if v := value(after, "sockgate_disconnects_total", "reason", "transport_error"); v != 0 {
		t.Errorf("the oversized message counted as transport_error too (%v)", v)
	}

	checkDashboard(t, after)
}

// dashboardMetric matches the metric names in PromQL: the gateway's own
// families and the Go and process collectors'.
var dashboardMetric = regexp.MustCompile(`\b(?:sockgate|go|process)_[a-zA-Z0-9_]+`)

// checkDashboard checks that every metric each panel of the Grafana
// dashboard queries is exported (up is Prometheus's own).
func checkDashboard(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/sockgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("sockgate.json: %v", err)
	}
	exported := map[string]bool{}
	for name, f := range fams {
		exported[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exported[name+suffix] = true
			}
		}
	}
	var panels int
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			panels++
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				names := dashboardMetric.FindAllString(q.Expr, -1)
				if len(names) == 0 && !strings.Contains(q.Expr, "up{") {
					t.Errorf("panel %q: no metric in %q", p.Title, q.Expr)
				}
				for _, n := range names {
					if !exported[n] {
						t.Errorf("panel %q queries %s, which the gateway does not export", p.Title, n)
					}
				}
			}
		}
	}
	walk(dash.Panels)
	if panels < 10 {
		t.Errorf("%d panels in the dashboard", panels)
	}
	// The sections the README promises.
	var titles []string
	for _, p := range dash.Panels {
		titles = append(titles, p.Title)
	}
	for _, want := range []string{"Connections by transport", "Disconnects by reason", "Messages in / out", "Broadcast fan-out",
		"Ack round trip", "Redis publish latency", "Slow-consumer disconnects", "Redis health", "Ready / draining", "Heap in use", "Goroutines", "GC pauses"} {
		if !slices.Contains(titles, want) {
			t.Errorf("dashboard lacks the panel %q", want)
		}
	}
}

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

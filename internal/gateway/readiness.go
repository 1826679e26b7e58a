package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/sockgate/sockgate/pkg/adapter"
)

// Readiness is what /readyz reports: whether this node should receive new
// clients and why not. Ready means "this node can take new clients"; a
// shared dependency such as Redis does not decide it (unless
// Config.ReadyRequiresRedis), or one Redis outage would take every node out
// of its load balancer at once although each still serves its own clients.
type Readiness struct {
	Ready    bool     `json:"ready"`
	Reasons  []string `json:"reasons,omitempty"` // why not ready, one per failed condition
	Draining bool     `json:"draining"`
	Adapter  string   `json:"adapter"`
	// Cluster is the adapter's health: "ok", "degraded: ..." (Redis
	// unreachable: local delivery only) or "" for adapters without one.
	Cluster string `json:"cluster,omitempty"`
	// ClusterRequired tells whether Cluster's health is a condition.
	ClusterRequired bool  `json:"cluster_required"`
	Connections     int64 `json:"connections"`
}

// Readiness evaluates every readiness condition. To add one, append its
// reason with notReady; each condition is checked on every probe, so keep
// them cheap (atomic loads, a Health call).
func (g *Gateway) Readiness() Readiness {
	r := Readiness{
		Ready:           true,
		Draining:        g.draining.Load(),
		Adapter:         g.AdapterName(),
		ClusterRequired: g.cfg.ReadyRequiresRedis,
		Connections:     g.io.Stats().Connections,
	}
	notReady := func(reason string) {
		r.Ready = false
		r.Reasons = append(r.Reasons, reason)
	}

	if r.Draining {
		notReady("draining")
	}
	if g.io.AtConnectionLimit() {
		notReady("at connection limit")
	}
	if h, ok := g.adapter.(adapter.Health); ok {
		r.Cluster = "ok"
		if err := h.Health(); err != nil {
			r.Cluster = "degraded: " + err.Error()
			if g.cfg.ReadyRequiresRedis {
				notReady("cluster " + r.Cluster)
			}
		}
	}
	return r
}

// Ready reports whether the node should receive new clients: nil, or an
// error naming every unmet condition (see Readiness).
func (g *Gateway) Ready() error {
	if r := g.Readiness(); !r.Ready {
		return errors.New("gateway: not ready: " + strings.Join(r.Reasons, "; "))
	}
	return nil
}

// readyz is the readiness probe: 200 "ready" or 503 "not ready: reasons".
// With ?verbose (any value) the body is the Readiness as JSON, with the
// same status.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	rd := g.Readiness()
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose && methodOK(w, r) {
		body, _ := json.Marshal(rd)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if r.Method == http.MethodGet {
			w.Write(append(body, '\n'))
		}
		return
	}
	text := "ready"
	if !rd.Ready {
		text = "not ready: " + strings.Join(rd.Reasons, "; ")
	}
	probe(w, r, code, text)
}

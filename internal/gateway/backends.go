package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sockgate/sockgate/internal/metrics"
	"github.com/sockgate/sockgate/pkg/api"
	"github.com/sockgate/sockgate/pkg/jwtauth"
	"github.com/sockgate/sockgate/pkg/proxy"
	"github.com/sockgate/sockgate/pkg/session"
)

// BackendConfig connects the gateway to an application backend: the server
// API, the connect/event/disconnect proxies, JWT authentication and the
// room policy of the built-in events. The zero value changes nothing: no
// API, no proxies, no JWT, clients join any room and may broadcast.
type BackendConfig struct {
	// APIToken turns the server API on at /api/ (else every /api/ path
	// is 404); requests need "Authorization: Bearer <APIToken>".
	APIToken string
	// ConnectURL, EventURL and DisconnectURL are the backend's proxy
	// endpoints (package proxy). With ConnectURL, clients may connect to
	// any namespace the backend accepts.
	ConnectURL, EventURL, DisconnectURL string
	// ProxyTimeout bounds one backend request. Default 5s.
	ProxyTimeout time.Duration
	// ProxyConcurrency bounds the backend requests in flight. Default 256.
	ProxyConcurrency int
	// JWTSecret (HS256) and JWTPublicKey (PEM: RS256, ES256 or EdDSA) turn
	// JWT authentication on for every namespace.
	JWTSecret    string
	JWTPublicKey []byte
	// ClientJoin is who may use the built-in join and leave: "any"
	// (default), "none", or a comma-separated list of room-name prefixes.
	ClientJoin string
	// NoClientBroadcast turns off the built-in message to everyone (from a
	// socket in no room).
	NoClientBroadcast bool
}

// maxDynamicNamespaces bounds the namespaces of a node when clients create
// them by connecting (with a connect proxy set): each joins the cluster
// until its last socket has left.
const maxDynamicNamespaces = 1000

// joinPolicy says which rooms clients may join and leave themselves.
type joinPolicy struct {
	none     bool
	prefixes []string // nil with none false: any room
}

// parseClientJoin parses the BackendConfig.ClientJoin syntax.
func parseClientJoin(s string) (joinPolicy, error) {
	switch s = strings.TrimSpace(s); s {
	case "", "any":
		return joinPolicy{}, nil
	case "none":
		return joinPolicy{none: true}, nil
	}
	var p joinPolicy
	for prefix := range strings.SplitSeq(s, ",") {
		prefix = strings.TrimSpace(prefix)
		if prefix == "" {
			return p, fmt.Errorf("client join %q: an empty prefix", s)
		}
		p.prefixes = append(p.prefixes, prefix)
	}
	return p, nil
}

func (p joinPolicy) allows(room string) bool {
	if p.none {
		return false
	}
	if p.prefixes == nil {
		return true
	}
	for _, prefix := range p.prefixes {
		if strings.HasPrefix(room, prefix) {
			return true
		}
	}
	return false
}

// backends is the gateway's side of the application backend.
type backends struct {
	join  joinPolicy
	jwt   *jwtauth.Verifier
	proxy *proxy.Proxy
	api   *api.Handler
	event bool // EventURL set: unknown events go to the backend
}

// setupBackends builds the backend pieces of cfg.Backend and wires them
// onto the server; it runs before the server takes clients.
func (g *Gateway) setupBackends() error {
	cfg := g.cfg.Backend
	b := &g.backends
	var err error
	if b.join, err = parseClientJoin(cfg.ClientJoin); err != nil {
		return err
	}
	if cfg.JWTSecret != "" || len(cfg.JWTPublicKey) > 0 {
		b.jwt, err = jwtauth.New(jwtauth.Config{Secret: []byte(cfg.JWTSecret), PublicKey: cfg.JWTPublicKey})
		if err != nil {
			return err
		}
	}
	if cfg.ConnectURL != "" || cfg.EventURL != "" || cfg.DisconnectURL != "" {
		pc := proxy.Config{
			ConnectURL:    cfg.ConnectURL,
			EventURL:      cfg.EventURL,
			DisconnectURL: cfg.DisconnectURL,
			Timeout:       cfg.ProxyTimeout,
			Concurrency:   cfg.ProxyConcurrency,
			Logger:        g.log,
		}
		if b.jwt != nil {
			pc.Claims = func(s *session.Socket) any { return jwtauth.Claims(s) }
		}
		if b.proxy, err = proxy.New(pc); err != nil {
			return err
		}
		b.event = cfg.EventURL != ""
	}
	resolve := func(name string) (*session.Namespace, error) {
		if n := g.io.LookupNamespace(name); n != nil {
			return n, nil
		}
		return nil, api.ErrUnknownNamespace
	}
	if cfg.ConnectURL != "" {
		// Every namespace the backend accepts exists, on every node: the
		// API may name one whose sockets are all elsewhere. It is created
		// set up, as a client's CONNECT would create it.
		resolve = func(name string) (*session.Namespace, error) {
			if n := g.io.DynamicNamespace(name); n != nil {
				return n, nil
			}
			return nil, api.ErrUnknownNamespace
		}
		g.io.DynamicNamespaces(g.dynamicNamespace, g.setupNamespace)
	}
	if cfg.APIToken != "" {
		if b.api, err = api.New(api.Config{Server: g.io, Token: cfg.APIToken, Namespace: resolve, Logger: g.log}); err != nil {
			b.proxy.Close(context.Background())
			return err
		}
	}
	g.setupNamespace(g.main)
	return nil
}

// dynamicNamespace admits the namespace of a CONNECT when a connect proxy
// decides who may connect.
func (g *Gateway) dynamicNamespace(name string) bool {
	return len(name) <= maxRoomLen && g.io.Stats().Namespaces < maxDynamicNamespaces
}

// setupNamespace adds the JWT and proxy middleware and handlers to a
// namespace. The main namespace keeps its built-in events, which hand
// what they do not know to the event proxy.
func (g *Gateway) setupNamespace(n *session.Namespace) {
	b := &g.backends
	if b.jwt != nil {
		n.Use(b.jwt.Middleware)
	}
	if b.proxy == nil {
		return
	}
	if g.cfg.Backend.ConnectURL != "" {
		n.Use(b.proxy.Connect)
	}
	main := n == g.main
	disconnect := g.cfg.Backend.DisconnectURL != ""
	if main && !disconnect {
		return
	}
	n.OnConnection(func(s *session.Socket) {
		if !main {
			s.OnAny(b.proxy.Event) // acks "unknown event" without an event URL
		}
		if disconnect {
			s.OnDisconnect(b.proxy.Disconnect)
		}
	})
}

// apiHandler serves /api/: the server API, or 404 when it is off.
func (g *Gateway) apiHandler() http.Handler {
	if g.backends.api == nil {
		return http.NotFoundHandler()
	}
	return g.backends.api
}

// closeBackends stops the proxy once the server has shut down (the
// disconnect notifications of the drain are sent first, within ctx).
func (g *Gateway) closeBackends(ctx context.Context) error {
	if g.backends.proxy == nil {
		return nil
	}
	return g.backends.proxy.Close(ctx)
}

func (g *Gateway) registerBackendMetrics() {
	b := &g.backends
	if p := b.proxy; p != nil {
		type S = proxy.Stats
		kinds := func(s S, f func(proxy.KindStats) float64, emit func(float64, ...string)) {
			emit(f(s.Connect), "connect")
			emit(f(s.Event), "event")
			emit(f(s.Disconnect), "disconnect")
		}
		g.reg.MustRegister(metrics.NewCollector(p.Stats,
			metrics.CounterVec("sockgate_proxy_requests_total", "Requests to the backend, by kind (retries count).", []string{"kind"},
				func(s S, emit func(float64, ...string)) {
					kinds(s, func(k proxy.KindStats) float64 { return float64(k.Requests) }, emit)
				}),
			metrics.CounterVec("sockgate_proxy_failures_total", "Backend requests that failed (transport error, non-200, bad answer, timeout), by kind.", []string{"kind"},
				func(s S, emit func(float64, ...string)) {
					kinds(s, func(k proxy.KindStats) float64 { return float64(k.Failures) }, emit)
				}),
			metrics.CounterVec("sockgate_proxy_request_seconds_total", "Time spent in backend requests, by kind.", []string{"kind"},
				func(s S, emit func(float64, ...string)) {
					kinds(s, func(k proxy.KindStats) float64 { return k.Duration.Seconds() }, emit)
				}),
			metrics.Gauge("sockgate_proxy_in_flight", "Backend requests in flight.",
				func(s S) float64 { return float64(s.InFlight) }),
			metrics.Counter("sockgate_proxy_disconnects_dropped_total", "Disconnect notifications dropped (queue full or shutting down).",
				func(s S) float64 { return float64(s.DisconnectsDropped) }),
		))
	}
	if a := b.api; a != nil {
		g.reg.MustRegister(metrics.NewCollector(a.Stats,
			metrics.Counter("sockgate_api_requests_total", "Server API requests.",
				func(s api.Stats) float64 { return float64(s.Requests) }),
			metrics.Counter("sockgate_api_refused_total", "Server API requests refused (4xx: token, input, unknown path or namespace).",
				func(s api.Stats) float64 { return float64(s.Refused) }),
			metrics.Counter("sockgate_api_failed_total", "Server API requests that failed (5xx: the cluster could not do it).",
				func(s api.Stats) float64 { return float64(s.Failed) }),
		))
	}
	if v := b.jwt; v != nil {
		g.reg.MustRegister(metrics.NewCollector(v.Stats,
			metrics.Counter("sockgate_jwt_accepted_total", "Connections with a valid JWT.",
				func(s jwtauth.Stats) float64 { return float64(s.Accepted) }),
			metrics.Counter("sockgate_jwt_rejected_total", "Connections refused for a missing or invalid JWT.",
				func(s jwtauth.Stats) float64 { return float64(s.Rejected) }),
		))
	}
}

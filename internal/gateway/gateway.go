package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockgate/sockgate/internal/metrics"
	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/forward"
	"github.com/sockgate/sockgate/pkg/session"
	"github.com/sockgate/sockgate/pkg/transport"
	"github.com/sockgate/sockgate/web"
)

// Config configures a Gateway. The zero value of each field means its default.
type Config struct {
	// Addr is the address Run listens on. Default ":3000".
	Addr string
	// Version is reported in the startup log line and sockgate_build_info.
	// Default "dev".
	Version string

	// RedisURL joins the node to a cluster through Redis (see
	// redisadapter.NewClient for the URL forms). Empty: a single node on the
	// in-memory adapter.
	RedisURL string
	// RedisKey is the channel prefix of the cluster. Default "socket.io".
	RedisKey string
	// RedisSharded selects sharded pub/sub (Redis >= 7): RedisAdapter
	// "sharded".
	RedisSharded bool
	// RedisAdapter is the format of the Redis adapter: "classic" (default),
	// "sharded" or "streams" (Node's @socket.io/redis-streams-adapter, the
	// one that supports Recovery in a cluster).
	RedisAdapter string
	// RedisStreamMaxLen trims the stream of the streams adapter (MAXLEN ~).
	// Default 10,000.
	RedisStreamMaxLen int
	// Recovery configures connection state recovery (default off). With
	// RedisURL it needs RedisAdapter "streams".
	Recovery session.RecoveryConfig
	// Adapter, if set, is used instead of one built from RedisURL; the
	// gateway does not close it.
	Adapter adapter.Adapter

	// Forward lets every node serve every Engine.IO request, so that the
	// load balancer needs no sticky sessions: a request for a session of
	// another node is forwarded to it (see package forward). It needs
	// RedisURL (the node registry lives there) and ClusterSecret. Default
	// false: the load balancer must keep each client on one node.
	Forward bool
	// ClusterSecret authenticates the requests nodes forward to each
	// other: the same on every node, at least forward.MinSecretBytes.
	ClusterSecret string
	// AdvertiseAddr is the host:port other nodes reach this one at, with
	// Forward. Default: the listener's address, when it names a host.
	AdvertiseAddr string

	// CORSOrigins may use the polling transport cross-origin ("*": any).
	// Default none.
	CORSOrigins []string
	// CORSCredentials allows credentialed cross-origin requests (cookies):
	// Access-Control-Allow-Credentials, and the request's origin echoed
	// instead of "*".
	CORSCredentials bool
	// Cookie names the cookie set on the Engine.IO handshake with the
	// session ID, for cookie-sticky load balancers. Default none.
	Cookie string
	// PingInterval, PingTimeout and MaxPayload are the Engine.IO settings.
	// Defaults 25s, 20s, 1,000,000 bytes.
	PingInterval time.Duration
	PingTimeout  time.Duration
	MaxPayload   int
	// AllowEIO3 accepts socket.io-client 2.x clients (Engine.IO v3).
	AllowEIO3 bool
	// Path is where Socket.IO and the client bundle are served; it starts
	// and ends with a slash. Default "/socket.io/".
	Path string

	// MaxRooms bounds the rooms one socket may join with the join event.
	// Default 100.
	MaxRooms int

	// Limits against abusive clients (see session.Config and
	// transport.Config). Zero: the defaults below, or no limit.

	// AllowedOrigins may open Engine.IO sessions; default CORSOrigins.
	AllowedOrigins []string
	// MaxConnections bounds the node's Engine.IO connections; at the limit
	// handshakes get 503 and the node is not ready until it drops below
	// 95 % of it. Default: no limit.
	MaxConnections int
	// HandshakeRate bounds new Engine.IO sessions per second. Default: no limit.
	HandshakeRate float64
	// EventRate and EventBurst bound a socket's packets per second.
	// Default: no limit.
	EventRate  float64
	EventBurst int
	// MaxAcks bounds the acks a socket owes the server. Default 1000.
	MaxAcks int
	// MaxNamespaces bounds the namespaces per connection. Default: no limit.
	MaxNamespaces int
	// ConnectTimeout bounds the wait for the first Socket.IO CONNECT.
	// Default 45s.
	ConnectTimeout time.Duration
	// ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes configure the HTTP
	// server of Serve. Defaults 5s, 2m, 16 KiB.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// WriteQueueBytes bounds what waits to be written to one connection;
	// a connection whose queue overflows is closed. Default 4 MiB.
	WriteQueueBytes int
	// TCPSendBuffer sets SO_SNDBUF on the connections Serve accepts.
	// Default 0: the kernel's autotuning.
	TCPSendBuffer int
	// ShutdownTimeout bounds the drain of Run, after DrainDelay. Default 20s.
	ShutdownTimeout time.Duration
	// DrainDelay is how long a draining node keeps serving every connection
	// with readiness already false before it closes the first ones, so that
	// load balancers notice first. Default 0.
	DrainDelay time.Duration
	// ReadyRequiresRedis makes an unhealthy adapter (Redis unreachable) a
	// readiness condition. Default false: the outage shows in metrics, logs
	// and /readyz?verbose only.
	ReadyRequiresRedis bool
	// Logger receives the gateway's logs. Default slog.Default().
	Logger *slog.Logger

	// Backend connects an application backend (backends.go).
	Backend BackendConfig
}

// Defaults.
const (
	DefaultAddr              = ":3000"
	DefaultPath              = "/socket.io/"
	DefaultMaxRooms          = 100
	DefaultMaxAcks           = 1000
	DefaultShutdownTimeout   = 20 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 16 << 10
)

// Gateway is one sockgate node. Its methods may be called concurrently.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	adapter  adapter.Adapter
	ownsAd   bool
	io       *session.Server
	main     *session.Namespace
	bundle   *web.Bundle
	reg      *prometheus.Registry
	handler  http.Handler
	onEvent  session.EventHandler // the built-in events; one func value for every socket
	backends backends

	fwd      *forward.Node // nil unless Config.Forward
	fwdRedis io.Closer     // the registry's Redis client

	roomsRefused atomic.Uint64 // joins refused at MaxRooms
	unserved     unservedConns // HTTP connections of Serve closed before a request
	draining     atomic.Bool
	drainBatch   int // connections closed per drain step
	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds a gateway. Call Run to serve, or mount Handler and call
// Shutdown when done.
func New(cfg Config) (*Gateway, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = DefaultMaxRooms
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MaxAcks <= 0 {
		cfg.MaxAcks = DefaultMaxAcks
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RedisAdapter == "" {
		cfg.RedisAdapter = "classic"
		if cfg.RedisSharded {
			cfg.RedisAdapter = "sharded"
		}
	}
	if err := checkRecovery(cfg); err != nil {
		return nil, err
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") || !strings.HasSuffix(cfg.Path, "/") || cfg.Path == "/" {
		return nil, fmt.Errorf("gateway: Path %q must start and end with a slash and not be /", cfg.Path)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, bundle: web.NewBundle(cfg.Path), drainBatch: defaultDrainBatch}

	switch {
	case cfg.Adapter != nil:
		g.adapter = cfg.Adapter
	case cfg.RedisURL != "":
		ra, err := newRedisAdapter(cfg)
		if err != nil {
			return nil, fmt.Errorf("gateway: redis adapter: %w", err)
		}
		g.adapter, g.ownsAd = ra, true
	default:
		g.adapter, g.ownsAd = adapter.NewMemory(), true
	}

	var sessionPrefix string
	var remote func(http.ResponseWriter, *http.Request, string) bool
	if cfg.Forward {
		if err := g.newForward(); err != nil {
			g.closeAdapter()
			return nil, fmt.Errorf("gateway: %w", err)
		}
		sessionPrefix, remote = g.fwd.SessionIDPrefix(), g.fwd.Remote
	}

	var cors transport.CORS
	if len(cfg.CORSOrigins) > 0 {
		cors.Origins = cfg.CORSOrigins
		cors.Credentials = cfg.CORSCredentials
	}
	io, err := session.NewServer(session.Config{
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		MaxPayload:   cfg.MaxPayload,
		AllowEIO3:    cfg.AllowEIO3,
		CORS:         cors,
		AllowRequest: g.allowRequest,
		// With Forward, session ids name this node, and requests for other
		// nodes' sessions go to them.
		SessionIDPrefix: sessionPrefix,
		Remote:          remote,
		Cookie:          cfg.Cookie,
		Adapter:         g.adapter,
		Logger:          cfg.Logger,
		Recovery:        cfg.Recovery,

		AllowedOrigins: cfg.AllowedOrigins,
		MaxConnections: cfg.MaxConnections,
		HandshakeRate:  cfg.HandshakeRate,
		EventRate:      cfg.EventRate,
		EventBurst:     cfg.EventBurst,
		MaxAcks:        cfg.MaxAcks,
		MaxNamespaces:  cfg.MaxNamespaces,
		ConnectTimeout: cfg.ConnectTimeout,

		WriteQueueBytes: cfg.WriteQueueBytes,
		// The built-in events never wait: broadcasts queue their writes
		// and their Redis publish, acks are sent without blocking. The
		// event proxy waits for the backend, on the socket's goroutine.
		InlineHandlers: cfg.Backend.EventURL == "",
	})
	if err != nil {
		g.closeForward(context.Background())
		g.closeAdapter()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.io = io
	g.main = io.Sockets()
	g.onEvent = g.handleEvent
	if err := g.setupBackends(); err != nil {
		io.Shutdown(context.Background())
		g.closeAdapter()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// The built-in events and the event proxy answer before they return
	// and keep no Event: they borrow it, which saves its allocation.
	g.main.OnConnection(func(s *session.Socket) { s.OnAnyBorrowed(g.onEvent) })

	g.reg = metrics.NewRegistry()
	g.registerMetrics()
	g.handler = g.routes()
	return g, nil
}

// Server is the gateway's Socket.IO server, for code that adds namespaces
// or handlers of its own.
func (g *Gateway) Server() *session.Server { return g.io }

// Handler is the gateway's HTTP handler (every endpoint).
func (g *Gateway) Handler() http.Handler { return g.handler }

// Registry is the gateway's Prometheus registry, served at /metrics.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// AdapterName names the adapter in use: "memory", "redis", "redis-sharded"
// or "redis-streams" ("custom" for Config.Adapter).
func (g *Gateway) AdapterName() string {
	switch {
	case g.cfg.Adapter != nil:
		return "custom"
	case g.cfg.RedisURL == "":
		return "memory"
	case g.cfg.RedisAdapter == "sharded":
		return "redis-sharded"
	case g.cfg.RedisAdapter == "streams":
		return "redis-streams"
	default:
		return "redis"
	}
}

var errDraining = errors.New("gateway: draining")

// allowRequest refuses new Engine.IO sessions while draining, with 503 so
// that the client (or the load balancer) retries on another node.
func (g *Gateway) allowRequest(*http.Request) error {
	if g.draining.Load() {
		return &transport.StatusError{Status: http.StatusServiceUnavailable, Err: errDraining}
	}
	return nil
}

// Run listens on Config.Addr and serves until ctx ends, then drains and
// shuts down within Config.DrainDelay + Config.ShutdownTimeout. It returns
// nil after a clean shutdown.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		g.Shutdown(context.Background())
		return fmt.Errorf("gateway: %w", err)
	}
	return g.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.unserved.wrap(g.handler),
		ConnContext:       g.unserved.connContext,
		ConnState:         g.unserved.connState,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		MaxHeaderBytes:    g.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	if g.cfg.TCPSendBuffer > 0 {
		ln = sendBufferListener{ln, g.cfg.TCPSendBuffer}
	}
	if g.fwd != nil {
		addr := g.cfg.AdvertiseAddr
		if addr == "" {
			addr = ln.Addr().String()
		}
		if err := g.fwd.Start(ctx, addr); err != nil {
			ln.Close()
			g.Shutdown(context.Background())
			return fmt.Errorf("gateway: %w", err)
		}
	}
	g.logStartup(ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		g.Shutdown(context.Background())
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}

	g.log.Info("draining", "delay", g.cfg.DrainDelay, "timeout", g.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.DrainDelay+g.cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown stops accepting Engine.IO sessions (and turns /readyz to 503)
	// at once, then closes the sessions, hijacked websockets included. The
	// HTTP server closes after it: a polling client between two GETs still
	// reaches its session and is told to close (Node closes its engine
	// before its HTTP server too), instead of finding its keep-alive
	// connection gone.
	err := g.Shutdown(sctx)
	if herr := srv.Shutdown(sctx); herr != nil {
		srv.Close()
		err = errors.Join(err, herr)
	}
	<-serveErr // http.ErrServerClosed
	if err != nil {
		g.log.Warn("shutdown incomplete", "err", err)
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	g.log.Info("stopped")
	return nil
}

func (g *Gateway) logStartup(addr net.Addr) {
	bundle := g.bundle.Version()
	if !g.bundle.Available() {
		bundle = "missing"
		g.log.Warn("socket.io client bundle not built in: /socket.io/socket.io.js answers 503; restore web/dist (or run npm ci && go generate ./web) and rebuild")
	}
	args := []any{"addr", addr.String(), "adapter", g.AdapterName(), "version", g.cfg.Version, "client_bundle", bundle}
	if g.fwd != nil {
		args = append(args, "sticky", false, "node", g.fwd.ID(), "advertise_addr", g.fwd.Addr())
	}
	g.log.Info("sockgate listening", args...)
}

// Shutdown drains the node (readiness false and new sessions refused at
// once; after Config.DrainDelay, connections closed in paced steps, each
// flushing what is queued for it), closes the Socket.IO server and its
// connections, and closes the adapter it built. Connections left when ctx
// ends are closed at once. It is idempotent; later calls return the first
// result.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdownOnce.Do(func() {
		g.draining.Store(true)
		g.drain(ctx)
		err := g.io.Shutdown(ctx)
		if errors.Is(err, session.ErrServerClosed) {
			err = nil
		}
		// The node leaves the registry last: until its sessions are closed,
		// other nodes still forward their clients' last requests here.
		g.shutdownErr = errors.Join(err, g.closeBackends(ctx), g.closeForward(ctx), g.closeAdapter())
	})
	return g.shutdownErr
}

func (g *Gateway) closeAdapter() error {
	if g.ownsAd {
		return g.adapter.Close()
	}
	return nil
}

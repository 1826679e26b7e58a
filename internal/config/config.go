// Package config reads the gateway's settings from command-line flags and
// SOCKGATE_* environment variables. A flag given on the command line wins over
// its environment variable, which wins over the default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Config is the gateway's configuration as the operator gave it.
type Config struct {
	Addr               string        // listen address, default ":3000"
	RedisURL           string        // empty: single node, in-memory adapter
	RedisKey           string        // channel prefix, default "socket.io" (as in Node)
	RedisSharded       bool          // sharded pub/sub (Redis >= 7); alias of RedisAdapter "sharded"
	RedisAdapter       string        // "classic" (default), "sharded" or "streams"
	RedisStreamMax     int           // streams: MAXLEN ~ of the stream, default 10000
	Recovery           time.Duration // connection state recovery: max disconnection; 0 (default) = off
	RecoverySkipMW     bool          // recovered sockets skip the middleware, default true
	RecoveryPersist    string        // "close" (default) or "eager"
	CORSOrigins        []string      // allowed origins for polling; "*" allows any; empty: no CORS headers
	CORSCredentials    bool          // Access-Control-Allow-Credentials (cookies cross-origin)
	Cookie             string        // handshake cookie name holding the sid; empty: none
	PingInterval       time.Duration // default 25s
	PingTimeout        time.Duration // default 20s
	MaxPayload         int           // bytes, default 1,000,000
	LogLevel           slog.Level    // default info
	LogFormat          string        // "text" (default) or "json"
	ShutdownTimeout    time.Duration // default 20s
	DrainDelay         time.Duration // default 0
	ReadyRequiresRedis bool          // -ready-requires-redis: an unhealthy adapter fails /readyz
	ShowVersion        bool          // -version: print the version and exit
	DebugAddr          string        // empty (default): no debug listener; else /debug/pprof/ there
	Sticky             bool          // default true; false: nodes forward requests for each other's sessions
	ClusterSecret      string        // authenticates node-to-node requests (needed with Sticky false)
	AdvertiseAddr      string        // how other nodes reach this one; default derived from Addr

	// Limits against abusive clients; 0 means none unless a default is given.
	AllowedOrigins    []string      // Origin values that may open sessions; empty: CORSOrigins
	MaxConnections    int           // open Engine.IO connections per node
	HandshakeRate     float64       // new Engine.IO sessions per second per node
	EventRate         float64       // client packets per second per socket
	EventBurst        int           // token bucket size of EventRate; 0: EventRate rounded up
	MaxRooms          int           // rooms one socket may join, default 100
	MaxAcks           int           // server-to-client acks in flight per socket, default 1000
	MaxNamespaces     int           // namespaces per Engine.IO connection
	ConnectTimeout    time.Duration // Socket.IO CONNECT after the Engine.IO open, default 45s
	ReadHeaderTimeout time.Duration // default 5s
	IdleTimeout       time.Duration // keep-alive idle timeout, default 2m
	MaxHeaderBytes    int           // request header bytes, default 16384
	WriteQueueBytes   int           // per connection, default 4 MiB; overflow closes it (slow consumer)
	TCPSendBuffer     int           // SO_SNDBUF of accepted connections; 0: the kernel's autotuning
	// An application backend (README "Use it with your backend").
	APIToken         string        // empty (default): no server API
	ConnectURL       string        // connect proxy; empty: none
	EventURL         string        // event proxy; empty: none
	DisconnectURL    string        // disconnect notifications; empty: none
	ProxyTimeout     time.Duration // default 5s
	ProxyConcurrency int           // default 256
	JWTSecret        string        // HS256 secret; empty: none
	JWTPublicKey     string        // path of a PEM public key; empty: none
	ClientJoin       string        // "any" (default), "none" or room-name prefixes
	ClientBroadcast  bool          // default true

	AllowEIO3 bool   // accept socket.io-client 2.x (Engine.IO v3) clients
	Path      string // where Socket.IO is served, with a trailing slash; default "/socket.io/"
}

// MinClusterSecret is the shortest -cluster-secret accepted.
const MinClusterSecret = 16

// EnvPrefix prefixes the environment variable of every flag: -redis-url is
// SOCKGATE_REDIS_URL.
const EnvPrefix = "SOCKGATE_"

// EnvName is the environment variable that sets a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// noEnv lists the flags that have no environment variable.
var noEnv = map[string]bool{"version": true}

// Parse reads args (without the program name) and the environment through
// getenv. Usage and errors go to output. For -h it returns flag.ErrHelp.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	c := Config{LogLevel: slog.LevelInfo, RecoverySkipMW: true}
	var cors string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Addr, "addr", ":3000", "`address` to listen on (host:port)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis `URL` (redis://[user:pass@]host:port/db, rediss:// for TLS) that joins the node to a cluster; empty runs a single node on the in-memory adapter")
	fs.StringVar(&c.RedisKey, "redis-key", "socket.io", "Redis channel `prefix`; clusters with different keys do not see each other (same default as Node's @socket.io/redis-adapter)")
	fs.BoolVar(&c.RedisSharded, "redis-sharded", false, "use sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis >= 7, Redis Cluster), Node's createShardedAdapter format; same as -redis-adapter sharded")
	fs.StringVar(&c.RedisAdapter, "redis-adapter", "classic", "Redis adapter `format`: classic (Node's createAdapter), sharded (createShardedAdapter) or streams (@socket.io/redis-streams-adapter, needed by -recovery in a cluster)")
	fs.IntVar(&c.RedisStreamMax, "redis-stream-maxlen", 10000, "streams adapter: approximate maximum `length` of the Redis stream (XADD MAXLEN ~); older entries cannot be recovered")
	fs.DurationVar(&c.Recovery, "recovery", 0, "connection state recovery: how long a disconnected client keeps its socket ID, rooms, data and missed packets (`duration`, e.g. 2m); 0 turns it off")
	fs.BoolVar(&c.RecoverySkipMW, "recovery-skip-middlewares", true, "recovered sockets skip the namespace middleware (as socket.io's skipMiddlewares)")
	fs.StringVar(&c.RecoveryPersist, "recovery-persist", "close", "when recovery sessions are stored: close (when the connection is lost, as socket.io) or eager (also at connect and on room or data changes, so clients of a crashed node recover elsewhere)")
	fs.StringVar(&cors, "cors-origins", "", "comma-separated `origins` allowed to use the polling transport cross-origin; * allows any; empty sends no CORS headers")
	fs.BoolVar(&c.CORSCredentials, "cors-credentials", false, "allow credentialed cross-origin requests (Access-Control-Allow-Credentials; the origin is echoed instead of *); needs -cors-origins")
	fs.Var((*cookieFlag)(&c.Cookie), "cookie", "set a cookie holding the Engine.IO session ID on the handshake, for cookie-sticky load balancers: -cookie names it io, -cookie=`name` names it; empty or false sets none")
	fs.DurationVar(&c.PingInterval, "ping-interval", 25*time.Second, "Engine.IO ping `interval`")
	fs.DurationVar(&c.PingTimeout, "ping-timeout", 20*time.Second, "how long to wait for a pong before closing the connection")
	fs.IntVar(&c.MaxPayload, "max-payload", 1_000_000, "largest Engine.IO message or polling body in `bytes`")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log `format`: text or json")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGINT/SIGTERM, how long to drain connections (after -drain-delay) before closing what is left")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "on SIGINT/SIGTERM, how long to keep serving every connection with /readyz already 503 before closing the first ones, for load balancers that need time to notice")
	fs.BoolVar(&c.ReadyRequiresRedis, "ready-requires-redis", false, "make /readyz answer 503 while Redis is unreachable; by default a Redis outage shows in metrics, logs and /readyz?verbose only, so that it cannot take every node out of the load balancer at once")
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "`address` (host:port) of a separate listener serving Go's /debug/pprof/ profiles; empty (default) serves none. Keep it on loopback: profiles reveal internals")
	fs.BoolVar(&c.Sticky, "sticky", true, "the load balancer keeps each client on one node (sticky sessions); false: any node serves any request, forwarding it to the node that owns the session (needs -redis-url and -cluster-secret)")
	fs.StringVar(&c.ClusterSecret, "cluster-secret", "", "shared `secret` (at least 16 characters, the same on every node) that authenticates the requests nodes forward to each other with -sticky=false; prefer the environment variable, flags show in ps")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", "", "`host:port` other nodes reach this one at, for -sticky=false (Kubernetes: the pod IP); default: the listen address, when -addr names a host")
	var origins string
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated `origins` (scheme://host[:port]) whose browsers may open Engine.IO sessions and websocket upgrades; other Origin headers get 403, requests without one pass; * allows any; empty: the -cors-origins list (no check when that is empty or *)")
	fs.IntVar(&c.MaxConnections, "max-connections", 0, "open Engine.IO connections per node; beyond it handshakes get 503 and /readyz 503 until below 95 %; 0: no limit")
	fs.Float64Var(&c.HandshakeRate, "handshake-rate", 0, "new Engine.IO sessions per second per node (token bucket, burst = rate); over it handshakes get 503; 0: no limit")
	fs.Float64Var(&c.EventRate, "event-rate", 0, "packets per second a client may send to one socket; excess packets are dropped, and a socket over the rate for 3s is disconnected (reason \"rate limited\"); 0: no limit")
	fs.IntVar(&c.EventBurst, "event-burst", 0, "token bucket size of -event-rate; 0: the rate rounded up")
	fs.IntVar(&c.MaxRooms, "max-rooms", 100, "rooms one socket may join with the join event")
	fs.IntVar(&c.MaxAcks, "max-acks", 1000, "server-to-client acks a socket may owe at once; beyond it EmitWithAck fails at once")
	fs.IntVar(&c.MaxNamespaces, "max-namespaces", 0, "namespaces one Engine.IO connection may connect to; beyond it CONNECT gets a connect error; 0: no limit")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 45*time.Second, "how long an Engine.IO connection may wait before its first Socket.IO CONNECT")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "how long a client may take to send its request headers")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive HTTP connection stays open")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 16384, "largest request header block in `bytes`; beyond it the request gets 431")
	fs.IntVar(&c.WriteQueueBytes, "write-queue-bytes", 4<<20, "`bytes` queued for one connection that does not read fast enough; beyond it the connection is closed (slow consumer)")
	fs.IntVar(&c.TCPSendBuffer, "tcp-send-buffer", 0, "kernel send buffer (SO_SNDBUF) of each accepted connection in `bytes`; bounds what a stalled client holds in the kernel (Linux autotunes up to 4 MiB) so that -write-queue-bytes takes effect sooner; 0: the kernel's default")
	fs.StringVar(&c.APIToken, "api-token", "", "bearer `token` of the server API at /api/v1/; empty (default) turns the API off (every /api/ path is 404)")
	fs.StringVar(&c.ConnectURL, "connect-url", "", "backend `URL` that every Socket.IO CONNECT is POSTed to (accept, refuse, user, rooms, data); with it, clients may connect to any namespace the backend accepts")
	fs.StringVar(&c.EventURL, "event-url", "", "backend `URL` that every client event other than the built-in ones is POSTed to (ack, emit, join, leave, disconnect)")
	fs.StringVar(&c.DisconnectURL, "disconnect-url", "", "backend `URL` that disconnections are POSTed to (best effort)")
	fs.DurationVar(&c.ProxyTimeout, "proxy-timeout", 5*time.Second, "how long a backend request may take; then the connection is refused or the event acked with an error")
	fs.IntVar(&c.ProxyConcurrency, "proxy-concurrency", 256, "most backend `requests` in flight at once")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HS256 `secret` of the JWTs clients must connect with (auth {token} or Authorization: Bearer); empty: no JWT check")
	fs.StringVar(&c.JWTPublicKey, "jwt-public-key", "", "`file` of a PEM public key (RSA: RS256, ECDSA P-256: ES256, Ed25519: EdDSA) of the JWTs clients must connect with")
	fs.StringVar(&c.ClientJoin, "client-join", "any", "which rooms clients may join and leave with the built-in events: any, none, or comma-separated room-name `prefixes`")
	fs.BoolVar(&c.ClientBroadcast, "client-broadcast", true, "let clients in no room send the built-in message to everyone")
	fs.BoolVar(&c.AllowEIO3, "allow-eio3", false, "also accept socket.io-client 2.x clients (Engine.IO v3 / Socket.IO protocol v4), as Node's allowEIO3")
	fs.StringVar(&c.Path, "path", "/socket.io/", "URL `path` of Socket.IO and of the client bundle below it, as Node's path option (a trailing slash is implied)")
	fs.Usage = func() { usage(fs) }

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(output, err)
		fs.Usage()
		return Config{}, err
	}

	// Environment variables fill in the flags not given on the command line,
	// parsed by the flag's own Value.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || noEnv[f.Name] {
			return
		}
		env := EnvName(f.Name)
		if v := getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}

	if c.RedisSharded && c.RedisAdapter == "classic" {
		c.RedisAdapter = "sharded" // the older flag
	}
	c.CORSOrigins = splitList(cors)
	c.AllowedOrigins = splitList(origins)
	if c.Path != "" && !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	return c, c.validate()
}

func splitList(s string) []string {
	var list []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			list = append(list, v)
		}
	}
	return list
}

func (c Config) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("-addr: empty"))
	}
	if c.RedisKey == "" {
		errs = append(errs, errors.New("-redis-key: empty"))
	}
	if c.RedisSharded && c.RedisURL == "" {
		errs = append(errs, errors.New("-redis-sharded needs -redis-url"))
	}
	switch c.RedisAdapter {
	case "classic", "sharded", "streams":
	default:
		errs = append(errs, fmt.Errorf("-redis-adapter: %q is not classic, sharded or streams", c.RedisAdapter))
	}
	if c.RedisSharded && c.RedisAdapter != "sharded" {
		errs = append(errs, fmt.Errorf("-redis-sharded conflicts with -redis-adapter %s", c.RedisAdapter))
	}
	if c.RedisStreamMax <= 0 {
		errs = append(errs, fmt.Errorf("-redis-stream-maxlen: %d is not positive", c.RedisStreamMax))
	}
	if c.Recovery < 0 {
		errs = append(errs, fmt.Errorf("-recovery: %v is negative", c.Recovery))
	}
	if c.Recovery > 0 && c.RedisURL != "" && c.RedisAdapter != "streams" {
		errs = append(errs, fmt.Errorf("-recovery needs -redis-adapter streams in a cluster: the %s adapter keeps no history, so sessions cannot move between nodes", c.RedisAdapter))
	}
	if c.RecoveryPersist != "close" && c.RecoveryPersist != "eager" {
		errs = append(errs, fmt.Errorf("-recovery-persist: %q is neither close nor eager", c.RecoveryPersist))
	}
	if c.PingInterval <= 0 {
		errs = append(errs, fmt.Errorf("-ping-interval: %v is not positive", c.PingInterval))
	}
	if c.PingTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-ping-timeout: %v is not positive", c.PingTimeout))
	}
	if c.MaxPayload <= 0 {
		errs = append(errs, fmt.Errorf("-max-payload: %d is not positive", c.MaxPayload))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-shutdown-timeout: %v is not positive", c.ShutdownTimeout))
	}
	if !c.Sticky {
		if c.RedisURL == "" {
			errs = append(errs, errors.New("-sticky=false needs -redis-url"))
		}
		if len(c.ClusterSecret) < MinClusterSecret {
			errs = append(errs, fmt.Errorf("-sticky=false needs -cluster-secret of at least %d characters", MinClusterSecret))
		}
		if c.AdvertiseAddr == "" && wildcard(c.Addr) {
			errs = append(errs, fmt.Errorf("-sticky=false needs -advertise-addr when -addr %q names no host", c.Addr))
		}
	}
	if c.AdvertiseAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdvertiseAddr); err != nil || wildcard(c.AdvertiseAddr) || port == "" || port == "0" {
			errs = append(errs, fmt.Errorf("-advertise-addr: %q is not a host:port other nodes can reach", c.AdvertiseAddr))
		}
	}
	if c.ProxyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-proxy-timeout: %v is not positive", c.ProxyTimeout))
	}
	if c.ProxyConcurrency <= 0 {
		errs = append(errs, fmt.Errorf("-proxy-concurrency: %d is not positive", c.ProxyConcurrency))
	}
	if strings.TrimSpace(c.ClientJoin) == "" {
		errs = append(errs, errors.New("-client-join: empty (any, none, or room-name prefixes)"))
	}
	if !strings.HasPrefix(c.Path, "/") || c.Path == "/" || strings.ContainsAny(c.Path, "?# \t") {
		errs = append(errs, fmt.Errorf("-path: %q must start with / and name a path below / (the demo is served at /)", c.Path))
	}
	if c.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("-drain-delay: %v is negative", c.DrainDelay))
	}
	if c.CORSCredentials && len(c.CORSOrigins) == 0 {
		errs = append(errs, errors.New("-cors-credentials needs -cors-origins"))
	}
	if c.ReadyRequiresRedis && c.RedisURL == "" {
		errs = append(errs, errors.New("-ready-requires-redis needs -redis-url"))
	}
	if !validCookieName(c.Cookie) {
		errs = append(errs, fmt.Errorf("-cookie: %q is not a valid cookie name", c.Cookie))
	}
	// Limits: 0 turns some off; none may be negative, and those with a
	// default must be positive.
	for _, v := range []struct {
		name        string
		val         any
		neg, nonPos bool
	}{
		{"-max-connections", c.MaxConnections, c.MaxConnections < 0, false},
		{"-handshake-rate", c.HandshakeRate, c.HandshakeRate < 0, false},
		{"-event-rate", c.EventRate, c.EventRate < 0, false},
		{"-event-burst", c.EventBurst, c.EventBurst < 0, false},
		{"-tcp-send-buffer", c.TCPSendBuffer, c.TCPSendBuffer < 0, false},
		{"-max-namespaces", c.MaxNamespaces, c.MaxNamespaces < 0, false},
		{"-max-rooms", c.MaxRooms, false, c.MaxRooms <= 0},
		{"-max-acks", c.MaxAcks, false, c.MaxAcks <= 0},
		{"-max-header-bytes", c.MaxHeaderBytes, false, c.MaxHeaderBytes <= 0},
		{"-write-queue-bytes", c.WriteQueueBytes, false, c.WriteQueueBytes <= 0},
		{"-connect-timeout", c.ConnectTimeout, false, c.ConnectTimeout <= 0},
		{"-read-header-timeout", c.ReadHeaderTimeout, false, c.ReadHeaderTimeout <= 0},
		{"-idle-timeout", c.IdleTimeout, false, c.IdleTimeout <= 0},
	} {
		switch {
		case v.neg:
			errs = append(errs, fmt.Errorf("%s: %v is negative", v.name, v.val))
		case v.nonPos:
			errs = append(errs, fmt.Errorf("%s: %v is not positive", v.name, v.val))
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format: %q is neither text nor json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// wildcard reports whether a listen address names no host (":3000",
// "0.0.0.0:3000", "[::]:3000"); unparsable addresses count as wildcards.
func wildcard(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// cookieFlag is -cookie: a boolean flag that also takes a name. Given alone
// (or "true") it is the reference server's default name, io; "false" or ""
// turns it off.
type cookieFlag string

// DefaultCookie is the cookie name of a bare -cookie, as socket.io's.
const DefaultCookie = "io"

func (f *cookieFlag) String() string   { return string(*f) }
func (f *cookieFlag) IsBoolFlag() bool { return true }
func (f *cookieFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "true", "1":
		*f = DefaultCookie
	case "false", "0", "":
		*f = ""
	default:
		*f = cookieFlag(v)
	}
	return nil
}

// validCookieName: an RFC 6265 token (no separators, spaces or controls).
func validCookieName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// NewLogger returns the logger that the configuration asks for, writing to w.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, `Usage: %s [flags]

sockgate is a Socket.IO (Engine.IO v4 / Socket.IO v5) gateway. It serves the
chat demo at /, Socket.IO at /socket.io/, Prometheus metrics at /metrics and
health checks at /healthz (live) and /readyz (ready). Without -redis-url it runs
a single node; with it, every node on the same Redis and key forms one cluster.
An application backend can decide who connects and what events do
(-connect-url, -event-url), and act through the server API (-api-token).

Every flag can also be set through its environment variable; a flag on the
command line wins.

Flags:
`, fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(text, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", strings.ToLower(f.DefValue))
		}
		if !noEnv[f.Name] {
			fmt.Fprintf(w, "\n    \tenv %s", EnvName(f.Name))
		}
		fmt.Fprintln(w)
	})
}

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
	"strings"
	"time"
)

// Config is the gateway's configuration as the operator gave it.
type Config struct {
	Addr               string        // listen address, default ":3000"
	RedisURL           string        // empty: single node, in-memory adapter
	RedisKey           string        // channel prefix, default "socket.io" (as in Node)
	RedisSharded       bool          // sharded pub/sub (Redis >= 7)
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
	AllowEIO3          bool          // accept socket.io-client 2.x (Engine.IO v3) clients
	Path               string        // where Socket.IO is served, with a trailing slash; default "/socket.io/"
}

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
	c := Config{LogLevel: slog.LevelInfo}
	var cors string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Addr, "addr", ":3000", "`address` to listen on (host:port)")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis `URL` (redis://[user:pass@]host:port/db, rediss:// for TLS) that joins the node to a cluster; empty runs a single node on the in-memory adapter")
	fs.StringVar(&c.RedisKey, "redis-key", "socket.io", "Redis channel `prefix`; clusters with different keys do not see each other (same default as Node's @socket.io/redis-adapter)")
	fs.BoolVar(&c.RedisSharded, "redis-sharded", false, "use sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis >= 7, Redis Cluster), Node's createShardedAdapter format")
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

	for o := range strings.SplitSeq(cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if c.Path != "" && !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	return c, c.validate()
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
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format: %q is neither text nor json", c.LogFormat))
	}
	return errors.Join(errs...)
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

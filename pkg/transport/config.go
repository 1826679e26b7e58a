package transport

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Transport names, as in the "transport" query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Close reasons passed to Handler.OnClose, as the reference server names them.
const (
	ReasonTransportClose = "transport close" // the client closed the transport
	ReasonTransportError = "transport error" // the transport failed or the client misbehaved
	ReasonPingTimeout    = "ping timeout"    // no pong within PingTimeout
	ReasonParseError     = "parse error"     // the client sent an undecodable packet
	ReasonForcedClose    = "forced close"    // closed by the server (Conn.Close, slow consumer)
	ReasonServerShutdown = "server shutting down"
)

// Handler receives the events of every Engine.IO connection of a Server.
type Handler interface {
	// OnOpen is called once per connection, after the handshake and before any
	// message. It must not block.
	OnOpen(c *Conn)
	// OnMessage is called for each Engine.IO message packet, serially per
	// connection and in arrival order. data belongs to the callee.
	OnMessage(c *Conn, data []byte, binary bool)
	// OnClose is called exactly once per connection, after its last OnMessage.
	OnClose(c *Conn, reason string)
}

// CORS configures cross-origin requests to the polling transport.
type CORS struct {
	Origins     []string // allowed origins; "*" allows any; empty disables CORS headers
	Credentials bool
}

// Config configures a Server. The zero value of each field means its default.
type Config struct {
	PingInterval    time.Duration // default 25s
	PingTimeout     time.Duration // default 20s
	MaxPayload      int           // bytes, default 1,000,000
	UpgradeTimeout  time.Duration // default 10s
	Transports      []string      // default {"polling", "websocket"}
	DisableUpgrades bool
	WriteQueueBytes int // per connection, default 4 MiB; overflow closes the connection
	// DisableCompression turns off the compression of polling responses.
	// By default a response of 1 KiB or more is compressed with gzip or
	// deflate when the request accepts it, as Node's httpCompression does.
	DisableCompression bool
	CORS               CORS
	// AllowEIO3 accepts Engine.IO v3 clients (socket.io-client 2.x) too, as
	// Node's allowEIO3 does. Default false: EIO=3 is refused with
	// "Unsupported protocol version".
	AllowEIO3 bool
	// AllowRequest, if set, may refuse a handshake (e.g. while draining); the
	// client gets HTTP 403 with error code 4 and the error's text, or the
	// status of a *StatusError.
	AllowRequest func(r *http.Request) error
	// SessionIDPrefix starts every session id the Server issues, so that
	// the nodes of a cluster can tell which of them owns a session. At most
	// 64 URL-safe characters (letters, digits, "-", ".", "_", "~").
	// Default none: ids are 20 random characters.
	SessionIDPrefix string
	// Remote, if set, is offered each request that names a session this
	// Server does not have (after the CORS headers are set), to serve it
	// elsewhere, for example by forwarding it to the node that owns the
	// session. It returns true once it has answered the request; false lets
	// the Server refuse it as usual (400, "Session ID unknown").
	Remote func(w http.ResponseWriter, r *http.Request, sid string) bool
	// AllowedOrigins lists the Origin header values (scheme://host[:port],
	// compared case-insensitively) that may open a session or upgrade one to
	// websocket; a request from another origin gets HTTP 403 with error code
	// 4. A request without an Origin header (not a browser) is allowed.
	// Default: CORS.Origins; no check when that is empty or holds "*".
	AllowedOrigins []string
	// MaxConnections bounds the open sessions; a handshake beyond it gets
	// HTTP 503 with a JSON body. Default 0: no limit.
	MaxConnections int
	// HandshakeRate bounds new sessions per second, as a token bucket whose
	// burst is the rate (at least 1); a handshake over it gets HTTP 503 with
	// a JSON body. Default 0: no limit.
	HandshakeRate float64
	// Cookie, if set, names a cookie holding the session ID that the
	// handshake response sets (Path=/, HttpOnly, SameSite=Lax), for
	// cookie-sticky load balancers. Default none.
	Cookie  string
	Logger  *slog.Logger // default slog.Default()
	Handler Handler      // required
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Handler == nil {
		return cfg, errors.New("transport: Config.Handler is required")
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = 20 * time.Second
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 1_000_000
	}
	if cfg.UpgradeTimeout == 0 {
		cfg.UpgradeTimeout = 10 * time.Second
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if cfg.WriteQueueBytes == 0 {
		cfg.WriteQueueBytes = 4 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PingInterval < 0 || cfg.PingTimeout < 0 || cfg.UpgradeTimeout < 0 || cfg.MaxPayload < 0 || cfg.WriteQueueBytes < 0 ||
		cfg.MaxConnections < 0 || cfg.HandshakeRate < 0 {
		return cfg, errors.New("transport: negative duration or size in Config")
	}
	for _, t := range cfg.Transports {
		if t != TransportPolling && t != TransportWebSocket {
			return cfg, errors.New("transport: unknown transport " + t)
		}
	}
	if len(cfg.SessionIDPrefix) > maxIDPrefix || strings.IndexFunc(cfg.SessionIDPrefix, notURLSafe) >= 0 {
		return cfg, errors.New("transport: SessionIDPrefix must be at most 64 URL-safe characters")
	}
	cfg.Transports = slices.Clone(cfg.Transports)
	if len(cfg.AllowedOrigins) == 0 {
		cfg.AllowedOrigins = cfg.CORS.Origins
	}
	if slices.Contains(cfg.AllowedOrigins, "*") {
		cfg.AllowedOrigins = nil
	}
	cfg.AllowedOrigins = slices.Clone(cfg.AllowedOrigins)
	return cfg, nil
}

const maxIDPrefix = 64

// notURLSafe reports whether r needs escaping in a URL query (RFC 3986
// unreserved characters do not).
func notURLSafe(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	case r == '-', r == '.', r == '_', r == '~':
		return false
	}
	return true
}

func (cfg *Config) allows(transport string) bool {
	return slices.Contains(cfg.Transports, transport)
}

package session

import (
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/transport"
)

// Config configures a Server. The zero value of each field means its
// documented default.
type Config struct {
	// Engine.IO settings, passed to the transport.

	PingInterval    time.Duration  // default 25s
	PingTimeout     time.Duration  // default 20s
	MaxPayload      int            // bytes per message or polling body, default 1,000,000
	UpgradeTimeout  time.Duration  // default 10s
	Transports      []string       // default {"polling", "websocket"}
	DisableUpgrades bool           // default false: polling may upgrade to websocket
	WriteQueueBytes int            // per connection, default 4 MiB; overflow closes the connection
	CORS            transport.CORS // default: no CORS headers
	// AllowEIO3 accepts socket.io-client 2.x clients (Engine.IO v3,
	// Socket.IO protocol v4), as Node's allowEIO3 does. Default false.
	AllowEIO3 bool
	// AllowRequest, if set, may refuse an Engine.IO handshake (HTTP 403, or
	// the status of a *transport.StatusError). Default: allow all.
	AllowRequest func(r *http.Request) error
	// SessionIDPrefix and Remote are transport.Config's: they let the
	// nodes of a cluster serve each other's sessions. Default none.
	SessionIDPrefix string
	Remote          func(w http.ResponseWriter, r *http.Request, sid string) bool
	// AllowedOrigins, MaxConnections and HandshakeRate are the transport's
	// admission limits (see transport.Config). Defaults: the CORS origins,
	// no limit, no limit.
	AllowedOrigins []string
	MaxConnections int
	HandshakeRate  float64
	// Cookie names a cookie set on the handshake with the session ID (the
	// cookie option of socket.io). Default none.
	Cookie string

	// Socket.IO settings.

	// ConnectTimeout closes an Engine.IO connection that has not connected
	// to any namespace in time. Default 45s, as in socket.io.
	ConnectTimeout time.Duration
	// Adapter connects the namespaces to the cluster. Default
	// adapter.NewMemory() (a single node), closed by Shutdown; an adapter
	// given here is left open for its owner to close.
	Adapter adapter.Adapter
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// MaxAttachments bounds the binary attachments of one packet. Default 10.
	MaxAttachments int
	// MaxDepth bounds the JSON nesting depth of a received payload. Default 100.
	MaxDepth int
	// MaxPendingEvents bounds the received events that wait for a socket's
	// handlers; a client that sends more while its handlers are busy is
	// disconnected. Default 1000.
	MaxPendingEvents int
	// MaxPendingBytes bounds the bytes of those events (their JSON and
	// binary attachments), so that a socket cannot hold MaxPendingEvents
	// times MaxPayload; a client that sends more is disconnected too. One
	// event alone is always accepted. Default 4 × MaxPayload (4,000,000
	// bytes with the default MaxPayload).
	MaxPendingBytes int
	// InlineHandlers runs a socket's event handlers on its connection's
	// read path when the socket has nothing queued, instead of on a
	// goroutine started for them, which saves a goroutine start and a
	// handoff per event. Only for handlers that return quickly and never
	// wait for their own client (EmitWithAck to their own socket, a later
	// event): while a handler runs inline, the connection reads nothing, so
	// neither acks nor pongs arrive. Default false.
	InlineHandlers bool
	// Recovery configures connection state recovery. Default: off.
	Recovery RecoveryConfig

	// Abuse limits.

	// MaxAcks bounds the acks a socket's client owes the server (EmitWithAck
	// in flight); beyond it EmitWithAck fails at once with ErrTooManyAcks,
	// and a broadcast with acks skips the socket. Default 0: no limit.
	MaxAcks int
	// MaxNamespaces bounds the namespaces one Engine.IO connection may
	// connect to; a CONNECT beyond it gets a CONNECT_ERROR "Too many
	// namespaces". Default 0: no limit.
	MaxNamespaces int
	// EventRate bounds the packets per second a client may send to one
	// socket (events and acks), as a token bucket of EventBurst tokens.
	// Packets over the rate are dropped and counted; a socket that keeps
	// sending over the rate for RateLimitGrace (3 s) is disconnected with
	// ReasonRateLimited. Default 0: no limit.
	EventRate float64
	// EventBurst is the bucket size of EventRate. Default: EventRate
	// rounded up.
	EventBurst int
}

// RateLimitGrace is how long a socket may keep sending over Config.EventRate
// (its packets dropped) before it is disconnected.
const RateLimitGrace = 3 * time.Second

const (
	defaultConnectTimeout   = 45 * time.Second
	defaultMaxPendingEvents = 1000
	defaultMaxPayload       = 1_000_000 // the transport's default
)

func (c *Config) setDefaults() {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxPendingEvents <= 0 {
		c.MaxPendingEvents = defaultMaxPendingEvents
	}
	if c.EventRate > 0 && c.EventBurst <= 0 {
		c.EventBurst = max(1, int(math.Ceil(c.EventRate)))
	}
	if c.MaxPendingBytes <= 0 {
		maxPayload := c.MaxPayload
		if maxPayload <= 0 {
			maxPayload = defaultMaxPayload
		}
		c.MaxPendingBytes = 4 * maxPayload
	}
}

func (c *Config) transport(h transport.Handler) transport.Config {
	return transport.Config{
		PingInterval:    c.PingInterval,
		PingTimeout:     c.PingTimeout,
		MaxPayload:      c.MaxPayload,
		UpgradeTimeout:  c.UpgradeTimeout,
		Transports:      c.Transports,
		DisableUpgrades: c.DisableUpgrades,
		WriteQueueBytes: c.WriteQueueBytes,
		CORS:            c.CORS,
		AllowEIO3:       c.AllowEIO3,
		AllowRequest:    c.AllowRequest,
		SessionIDPrefix: c.SessionIDPrefix,
		Remote:          c.Remote,
		AllowedOrigins:  c.AllowedOrigins,
		MaxConnections:  c.MaxConnections,
		HandshakeRate:   c.HandshakeRate,
		Cookie:          c.Cookie,
		Logger:          c.Logger,
		Handler:         h,
	}
}

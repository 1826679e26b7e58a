package transport

// CONTRACT STUB: the exported surface that pkg/session builds on. The
// transport helper replaces these bodies with the real implementation (and
// may add fields/methods), but keeps these signatures.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// Errors returned by Conn.Send.
var (
	ErrClosed       = errors.New("transport: connection closed")
	ErrSlowConsumer = errors.New("transport: write queue full (slow consumer)")
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
	CORS            CORS
	// AllowRequest, if set, may refuse a handshake (e.g. while draining).
	AllowRequest func(r *http.Request) error
	Logger       *slog.Logger // default slog.Default()
	Handler      Handler      // required
}

// Request is what a connection keeps of its handshake request.
type Request struct {
	Header     http.Header
	Query      url.Values
	RemoteAddr string
	URL        string
	Secure     bool
	XDomain    bool
	Time       time.Time
}

// Stats is a snapshot of a Server's counters.
type Stats struct{}

// Server is an Engine.IO v4 server; it is an http.Handler.
type Server struct{}

func NewServer(cfg Config) (*Server, error)                        { panic("todo") }
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }
func (s *Server) Shutdown(ctx context.Context) error               { panic("todo") }
func (s *Server) Stats() Stats                                     { panic("todo") }

// Conn is one Engine.IO session. All methods may be called concurrently.
type Conn struct{}

func (c *Conn) ID() string        { panic("todo") }
func (c *Conn) Transport() string { panic("todo") } // "polling" or "websocket"
func (c *Conn) Request() *Request { panic("todo") }

// Send queues frames (message packets) for writing; it never blocks. When the
// queue would exceed WriteQueueBytes, a volatile send is dropped (nil error)
// and any other send closes the connection and returns ErrSlowConsumer.
// Volatile sends are also dropped while the transport is not writable.
func (c *Conn) Send(frames []engineio.Frame, volatile bool) error { panic("todo") }

// Close closes the connection; OnClose follows with reason.
func (c *Conn) Close(reason string) { panic("todo") }

// SetValue and Value hold one value for the layer above (its per-connection state).
func (c *Conn) SetValue(v any) { panic("todo") }
func (c *Conn) Value() any     { panic("todo") }

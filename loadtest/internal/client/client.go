// Package client is a minimal Socket.IO v5 client over Engine.IO v4
// websockets, built on the project's own codecs, for load generation.
//
// It does what a load test needs and nothing more: one namespace, text
// events and acks with raw JSON arguments, and answering the server's pings.
// There is no reconnection and no polling transport.
//
// All methods of Client may be called concurrently. Callbacks (Options.OnEvent
// and ack callbacks) run on the client's read goroutine, one at a time, in
// arrival order; the slices they receive are valid only during the call.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Errors.
var (
	ErrClosed       = errors.New("client: connection closed")
	ErrConnectError = errors.New("client: namespace refused the connection")
)

// Counters are shared by many clients; every field is updated atomically.
type Counters struct {
	PingsAnswered atomic.Int64
	FramesIn      atomic.Int64
	BytesIn       atomic.Int64
	FramesOut     atomic.Int64
	ProtocolError atomic.Int64
}

// Options configure Dial. The zero value of each field means its default.
type Options struct {
	// Path is the Engine.IO endpoint, default "/socket.io/".
	Path string
	// Namespace to connect to, default "/".
	Namespace string
	// Auth is the raw JSON object sent in CONNECT; none by default.
	Auth []byte
	// HTTPClient dials the websocket (e.g. from a chosen source address);
	// default http.DefaultClient.
	HTTPClient *http.Client
	// ReadLimit is the largest frame accepted, default 16 MiB.
	ReadLimit int64
	// OnEvent receives every event the server sends (name unescaped, args raw
	// JSON). It runs on the read goroutine and must not block.
	OnEvent func(name string, args [][]byte)
	// OnClose is called once when the connection ends, with the reason
	// (nil after Close).
	OnClose func(err error)
	// Counters, if set, are updated by this client.
	Counters *Counters
}

// Client is one Socket.IO connection.
type Client struct {
	conn     *websocket.Conn
	opts     Options
	sid      string
	nsp      string
	counters *Counters

	cancel context.CancelFunc
	done   chan struct{} // closed when the read goroutine has exited

	stalled atomic.Bool // StopReading: the read loop reads no more

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]func(args [][]byte, err error)
	closed  bool
	err     error

	closeOnce sync.Once
}

// WebSocketURL turns a node address (http://host:port, ws://host:port or
// host:port, with or without a path) into the Engine.IO websocket URL.
func WebSocketURL(node, path string) (string, error) {
	if path == "" {
		path = "/socket.io/"
	}
	if !strings.Contains(node, "://") {
		node = "ws://" + node
	}
	u, err := url.Parse(node)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: unsupported scheme %q", u.Scheme)
	}
	u.Path = path
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String(), nil
}

// Dial opens an Engine.IO websocket session to node (see WebSocketURL),
// waits for the open packet, connects the namespace and waits for the
// server's CONNECT. ctx bounds the whole handshake only.
func Dial(ctx context.Context, node string, opts Options) (*Client, error) {
	if opts.Namespace == "" {
		opts.Namespace = "/"
	}
	if opts.ReadLimit == 0 {
		opts.ReadLimit = 16 << 20
	}
	counters := opts.Counters
	if counters == nil {
		counters = new(Counters)
	}
	u, err := WebSocketURL(node, opts.Path)
	if err != nil {
		return nil, err
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(opts.ReadLimit)
	c := &Client{
		conn:     conn,
		opts:     opts,
		nsp:      opts.Namespace,
		counters: counters,
		done:     make(chan struct{}),
		pending:  make(map[uint64]func([][]byte, error)),
	}
	if err := c.handshake(ctx); err != nil {
		conn.CloseNow()
		return nil, err
	}
	readCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.readLoop(readCtx)
	return c, nil
}

// handshake reads the open packet, sends CONNECT and waits for its answer,
// answering pings that arrive meanwhile.
func (c *Client) handshake(ctx context.Context) error {
	typ, data, err := c.conn.Read(ctx)
	if err != nil {
		return err
	}
	pkt, err := engineio.DecodePacket(data, typ == websocket.MessageBinary)
	if err != nil || pkt.Type != engineio.PacketOpen {
		return fmt.Errorf("client: expected an open packet, got %q", truncate(data))
	}
	open, err := engineio.ParseOpen(pkt.Data)
	if err != nil || open.SID == "" {
		return fmt.Errorf("client: bad open packet %q", truncate(data))
	}
	c.sid = open.SID

	p := socketio.Packet{Type: socketio.Connect, Namespace: c.nsp, Data: c.opts.Auth}
	if err := c.writePacket(ctx, &p); err != nil {
		return err
	}
	var dec socketio.Decoder
	for {
		typ, data, err := c.conn.Read(ctx)
		if err != nil {
			return err
		}
		ep, err := engineio.DecodePacket(data, typ == websocket.MessageBinary)
		if err != nil {
			return err
		}
		switch {
		case ep.Type == engineio.PacketPing:
			if err := c.pong(ctx); err != nil {
				return err
			}
			continue
		case ep.Type == engineio.PacketNoop || ep.Binary:
			continue
		case ep.Type != engineio.PacketMessage:
			return fmt.Errorf("client: unexpected packet during connect %q", truncate(data))
		}
		pkt, err := dec.Decode(ep.Data)
		if err != nil {
			return err
		}
		if pkt == nil || pkt.Namespace != c.nsp {
			continue
		}
		switch pkt.Type {
		case socketio.Connect:
			return nil
		case socketio.ConnectError:
			return fmt.Errorf("%w: %s", ErrConnectError, truncate(pkt.Data))
		default:
			return fmt.Errorf("client: unexpected packet type %d before CONNECT", pkt.Type)
		}
	}
}

// SID returns the Engine.IO session id.
func (c *Client) SID() string { return c.sid }

// Done is closed once the connection has ended and its read goroutine exited.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (nil while open or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Emit sends event name with raw JSON arguments.
func (c *Client) Emit(ctx context.Context, name string, args ...[]byte) error {
	p := socketio.Packet{Type: socketio.Event, Namespace: c.nsp, Data: socketio.AppendEvent(nil, name, args...)}
	return c.writePacket(ctx, &p)
}

// EmitWithAck sends event name and calls ack, on the read goroutine, with the
// arguments of the server's ACK, or with an error if the connection ends
// first. There is no timeout: cancel by closing the client.
func (c *Client) EmitWithAck(ctx context.Context, ack func(args [][]byte, err error), name string, args ...[]byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	id := c.nextID
	c.nextID++
	c.pending[id] = ack
	c.mu.Unlock()
	p := socketio.Packet{Type: socketio.Event, Namespace: c.nsp, ID: id, HasID: true, Data: socketio.AppendEvent(nil, name, args...)}
	if err := c.writePacket(ctx, &p); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return err
	}
	return nil
}

// Call is EmitWithAck that waits for the ack (or ctx). The returned
// arguments are copies.
func (c *Client) Call(ctx context.Context, name string, args ...[]byte) ([][]byte, error) {
	type result struct {
		args [][]byte
		err  error
	}
	ch := make(chan result, 1)
	err := c.EmitWithAck(ctx, func(args [][]byte, err error) {
		cp := make([][]byte, len(args))
		for i, a := range args {
			cp[i] = append([]byte(nil), a...)
		}
		ch <- result{cp, err}
	}, name, args...)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// StopReading makes the client read nothing more (after the frame it may
// be waiting for): the server's writes fill the TCP windows and then its
// write queue, as with a client that hangs. Close or Abort still end it.
func (c *Client) StopReading() { c.stalled.Store(true) }

// Close disconnects the namespace, closes the websocket and waits for the
// read goroutine to exit.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p := socketio.Packet{Type: socketio.Disconnect, Namespace: c.nsp}
		_ = c.writePacket(ctx, &p)
		c.finish(nil)
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
		c.cancel()
	})
	<-c.done
	return nil
}

// Abort drops the TCP connection without any close handshake.
func (c *Client) Abort() {
	c.closeOnce.Do(func() {
		c.finish(nil)
		_ = c.conn.CloseNow()
		c.cancel()
	})
	<-c.done
}

// finish marks the client closed with err and fails pending acks.
func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.err = true, err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ack := range pending {
		ack(nil, ErrClosed)
	}
}

func (c *Client) writePacket(ctx context.Context, p *socketio.Packet) error {
	buf := make([]byte, 0, 16+len(p.Data))
	buf = engineio.AppendPacket(buf, engineio.Packet{Type: engineio.PacketMessage})
	buf = p.Append(buf)
	c.counters.FramesOut.Add(1)
	return c.conn.Write(ctx, websocket.MessageText, buf)
}

func (c *Client) pong(ctx context.Context) error {
	c.counters.PingsAnswered.Add(1)
	// Engine.IO "Heartbeat": the server's "2" is answered with "3".
	return c.conn.Write(ctx, websocket.MessageText, engineio.TextFrame(engineio.PacketPong, nil).Data)
}

// readLoop reads frames until the connection ends, answering pings and
// dispatching events and acks.
func (c *Client) readLoop(ctx context.Context) {
	defer close(c.done)
	var dec socketio.Decoder
	var err error
	defer func() {
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		c.finish(err)
		c.conn.CloseNow()
		c.mu.Lock()
		err = c.err
		c.mu.Unlock()
		if c.opts.OnClose != nil {
			c.opts.OnClose(err)
		}
	}()
	for {
		var typ websocket.MessageType
		var data []byte
		if c.stalled.Load() {
			<-ctx.Done() // until Close or Abort
			return
		}
		typ, data, err = c.conn.Read(ctx)
		if err != nil {
			return
		}
		c.counters.FramesIn.Add(1)
		c.counters.BytesIn.Add(int64(len(data)))
		var ep engineio.Packet
		var pkt *socketio.Packet
		ep, err = engineio.DecodePacket(data, typ == websocket.MessageBinary)
		switch {
		case err != nil:
		case ep.Binary:
			pkt, err = dec.AddAttachment(ep.Data)
		case ep.Type == engineio.PacketMessage:
			pkt, err = dec.Decode(ep.Data)
		case ep.Type == engineio.PacketPing:
			err = c.pong(ctx)
		case ep.Type == engineio.PacketClose:
			err = errors.New("client: server closed the session")
		case ep.Type == engineio.PacketNoop:
		default:
			err = fmt.Errorf("client: unexpected Engine.IO packet %q", truncate(data))
		}
		if err != nil {
			c.counters.ProtocolError.Add(1)
			return
		}
		if pkt != nil && pkt.Namespace == c.nsp {
			if err = c.dispatch(pkt); err != nil {
				return
			}
		}
	}
}

func (c *Client) dispatch(p *socketio.Packet) error {
	switch p.Type {
	case socketio.Event, socketio.BinaryEvent:
		if c.opts.OnEvent == nil {
			return nil
		}
		name, args, err := socketio.SplitEvent(p.Data)
		if err != nil {
			return err
		}
		c.opts.OnEvent(name, args)
	case socketio.Ack, socketio.BinaryAck:
		if !p.HasID {
			return errors.New("client: ack without id")
		}
		c.mu.Lock()
		ack := c.pending[p.ID]
		delete(c.pending, p.ID)
		c.mu.Unlock()
		if ack == nil {
			return nil
		}
		args, err := socketio.SplitArray(p.Data)
		ack(args, err)
	case socketio.Disconnect:
		return errors.New("client: server disconnected the namespace")
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// LoopbackClients returns count HTTP clients that dial from the source
// addresses 127.0.0.1, 127.0.0.2, …, so that more connections than one
// address has ephemeral ports can be opened to loopback servers.
func LoopbackClients(count int) []*http.Client {
	if count < 1 {
		count = 1
	}
	out := make([]*http.Client, count)
	for i := range out {
		n := i + 1 // 127.0.0.1 … 127.0.255.254
		ip := net.IPv4(127, 0, byte(n>>8), byte(n&0xff))
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second}
		out[i] = &http.Client{Transport: &http.Transport{
			DialContext:       d.DialContext,
			DisableKeepAlives: true,
			ForceAttemptHTTP2: false,
		}}
	}
	return out
}

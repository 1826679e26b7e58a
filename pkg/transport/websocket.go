package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// Buffer sizes handed to the websocket library. They stay allocated while a
// connection is idle, so they are small: the library reads payloads larger
// than the read buffer straight into the message, and every write goes
// through batchWriter, which gathers a whole batch before the syscall.
const (
	wsReadBufSize  = 128
	wsWriteBufSize = 128
	maxBatchBytes  = 64 << 10
)

// wsConn is one accepted websocket and what we need of it.
type wsConn struct {
	conn *websocket.Conn
	nc   net.Conn
	out  *batchWriter
	br   *bufio.Reader   // the library's reader: bytes may wait in it
	raw  syscall.RawConn // nil if the connection has no file descriptor (TLS)

	// closing is set before a close handshake, during which the library
	// reads br from the closing goroutine: the reader stops peeking at br.
	mu      sync.Mutex
	closing bool

	// Guarded by the server's poller.mu.
	token      uint64 // the connection's key in the poller, 0 until parked
	registered bool   // in the poller's epoll set
	unpollable bool   // closing: never park again
}

// hookedConn is the net.Conn the library owns: closing it first takes the
// websocket out of the poller and out of the server's set, since a parked
// websocket has no reader left to do it.
type hookedConn struct {
	net.Conn
	s *Server
	t *wsConn
}

func (h *hookedConn) Close() error {
	h.s.poller.forget(h.t)
	h.s.untrack(h.t)
	return h.Conn.Close()
}

// closeGracefully sends a close frame and waits (boundedly) for the peer's.
func (t *wsConn) closeGracefully(code websocket.StatusCode, reason string) {
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()
	_ = t.conn.Close(code, reason)
}

func (t *wsConn) closeNow() { _ = t.conn.CloseNow() }

// smallBufHijacker makes websocket.Accept hijack with small bufio buffers of
// our own instead of net/http's 4 KiB ones, which are released once the
// handler returns.
type smallBufHijacker struct {
	http.ResponseWriter
	s *Server
	t *wsConn
}

func (h *smallBufHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if sc, ok := nc.(syscall.Conn); ok {
		h.t.raw, _ = sc.SyscallConn()
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after the handshake, already read by
		// net/http. The library replaces the reader we return by one over the
		// net.Conn, so the net.Conn itself must hand them out first.
		early, _ := brw.Reader.Peek(n)
		nc = &prefixConn{Conn: nc, prefix: bytes.Clone(early)}
		h.t.raw = nil
	}
	h.t.out = &batchWriter{nc: nc}
	h.t.br = bufio.NewReaderSize(nc, wsReadBufSize)
	h.t.nc = &hookedConn{Conn: nc, s: h.s, t: h.t}
	return h.t.nc, bufio.NewReadWriter(h.t.br, bufio.NewWriterSize(h.t.out, wsWriteBufSize)), nil
}

// prefixConn is a net.Conn that reads prefix before the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		if len(c.prefix) == 0 {
			c.prefix = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// accept upgrades r to a websocket; on failure the library has answered.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	t := &wsConn{}
	conn, err := websocket.Accept(&smallBufHijacker{ResponseWriter: w, s: s, t: t}, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // any origin, as Socket.IO servers do for websockets
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.stats.wsAccept.Add(1)
		return nil, err
	}
	conn.SetReadLimit(int64(s.cfg.MaxPayload))
	t.conn = conn
	s.wsMu.Lock()
	s.wsSet[t] = struct{}{}
	s.wsMu.Unlock()
	return t, nil
}

// serveWebSocketHandshake opens a session whose first transport is a
// websocket: the open packet is its first text frame.
func (s *Server) serveWebSocketHandshake(w http.ResponseWriter, r *http.Request, req *Request) {
	t, err := s.accept(w, r)
	if err != nil {
		return
	}
	c := s.newConn(req, TransportWebSocket, t)
	s.open(c)
	c.mu.Lock()
	c.kickLocked() // write the open packet (and what OnOpen sent)
	c.mu.Unlock()
	s.group.goFunc(func() { c.readLoop(t) })
}

// serveUpgrade accepts the websocket of a polling session that upgrades.
func (s *Server) serveUpgrade(c *Conn, w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	ok := c.state == stateOpen && c.transport == TransportPolling && c.probe == nil && !s.cfg.DisableUpgrades
	c.mu.Unlock()
	if !ok {
		s.refuse(w, codeBadRequest, "")
		return
	}
	t, err := s.accept(w, r)
	if err != nil {
		return
	}
	c.mu.Lock()
	if c.state != stateOpen || c.transport != TransportPolling || c.probe != nil {
		c.mu.Unlock()
		t.closeNow()
		s.untrack(t)
		return
	}
	c.probe = t
	c.probed = false
	c.upgradeTimer = time.AfterFunc(s.cfg.UpgradeTimeout, func() { c.cancelUpgrade(t) })
	c.mu.Unlock()
	s.group.goFunc(func() { c.readLoop(t) })
}

// cancelUpgrade abandons the upgrade on t; the session stays on polling.
func (c *Conn) cancelUpgrade(t *wsConn) {
	c.mu.Lock()
	if c.probe == t {
		c.probe = nil
		c.probed = false
		c.upgradeTimer.Stop()
	}
	c.mu.Unlock()
	t.closeNow()
}

func (s *Server) untrack(t *wsConn) {
	s.wsMu.Lock()
	delete(s.wsSet, t)
	s.wsMu.Unlock()
}

// readLoop reads the websocket t until it fails. t is the session's
// transport, or its upgrade probe until the client sends the upgrade packet.
// It is the only goroutine an idle websocket session has.
//
// Reading a message goes deep (the library, then the layers above), and a
// goroutine's stack never shrinks below a quarter of what it used, so a
// reader that waits where it has read keeps 4-8 KiB. A busy client (two
// messages within busyGap) keeps such a reader all the same: it costs nothing
// per message. Otherwise, once the library holds no buffered bytes, the
// reader exits and leaves the wait to the poller (no goroutine at all) or,
// where there is none, to a fresh goroutine with the runtime's starting
// stack size.
func (c *Conn) readLoop(t *wsConn) {
	s := c.srv
	for {
		t.waitReadable()
		if !c.readBurst(t) {
			s.untrack(t)
			t.closeNow()
			return
		}
		if time.Now().UnixNano() < c.busyUntil.Load() {
			continue
		}
		if !s.poller.park(s, c, t) {
			s.group.goFunc(func() { c.readLoop(t) })
		}
		return
	}
}

// readBurst reads and handles messages until the library has no buffered
// bytes left (true: wait for more) or t is done (false).
//
//go:noinline
func (c *Conn) readBurst(t *wsConn) (wait bool) {
	s := c.srv
	for {
		typ, data, err := t.conn.Read(context.Background())
		if err != nil {
			c.transportFailed(t, readErrorReason(err))
			return false
		}
		if typ == websocket.MessageText && !utf8.Valid(data) {
			s.stats.utf8.Add(1)
			c.badInput("invalid UTF-8 in text frame", nil)
			c.transportFailedMode(t, ReasonTransportError, closeDetach)
			// RFC 6455 section 8.1: fail the connection with 1007.
			t.closeGracefully(websocket.StatusInvalidFramePayloadData, "invalid UTF-8")
			return false
		}
		p, err := engineio.DecodePacket(data, typ == websocket.MessageBinary)
		if err != nil {
			s.stats.parse.Add(1)
			c.badInput("undecodable packet", err)
			c.transportFailed(t, ReasonParseError)
			return false
		}
		c.mu.Lock()
		probe := c.probe == t
		current := c.ws == t && c.state == stateOpen
		c.mu.Unlock()
		switch {
		case probe:
			if !c.onProbePacket(t, p) {
				return false
			}
		case current:
			c.readMu.Lock()
			err = c.onPacket(p)
			c.readMu.Unlock()
			if err != nil {
				return false
			}
		default:
			return false
		}
		if t.drained() {
			return true
		}
	}
}

// drained reports whether the next read would wait on the socket itself:
// the library's reader holds no bytes. Without a file descriptor to wait on
// (TLS, early bytes) the reader never hands over.
func (t *wsConn) drained() bool {
	if t.raw == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.closing && t.br.Buffered() == 0
}

// waitReadable parks until the connection has bytes to read, without the
// library's call chain on the stack. Errors are left for the read that
// follows.
func (t *wsConn) waitReadable() {
	if t.raw == nil {
		return
	}
	t.mu.Lock()
	skip := t.closing || t.br.Buffered() > 0
	t.mu.Unlock()
	if skip {
		return
	}
	_ = t.raw.Read(func(fd uintptr) bool { return !wouldBlock(fd) })
}

// transportFailed closes the session if t is its transport, or abandons the
// upgrade if t is the probe.
func (c *Conn) transportFailed(t *wsConn, reason string) {
	c.transportFailedMode(t, reason, closeDrop)
}

func (c *Conn) transportFailedMode(t *wsConn, reason string, mode closeMode) {
	c.mu.Lock()
	current := c.ws == t
	probe := c.probe == t
	if probe && mode == closeDetach {
		c.probe = nil
		c.probed = false
		c.upgradeTimer.Stop()
	}
	c.mu.Unlock()
	switch {
	case current:
		c.close(reason, mode)
	case mode != closeDetach:
		c.cancelUpgrade(t)
	}
}

func readErrorReason(err error) string {
	switch {
	case websocket.CloseStatus(err) != -1,
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		return ReasonTransportClose
	default:
		return ReasonTransportError
	}
}

// onProbePacket runs the upgrade ("Upgrade" in the spec): answer "2probe"
// with "3probe" and release the pending GET with a noop, then switch the
// session to t on "5". It returns false when t is given up.
func (c *Conn) onProbePacket(t *wsConn, p engineio.Packet) bool {
	s := c.srv
	switch {
	case p.Type == engineio.PacketPing && string(p.Data) == "probe":
		if err := t.conn.Write(context.Background(), websocket.MessageText, s.probeFrame.Data); err != nil {
			c.cancelUpgrade(t)
			return false
		}
		c.mu.Lock()
		if c.probe == t {
			c.probed = true
			c.kickLocked()
		}
		c.mu.Unlock()
		return true
	case p.Type == engineio.PacketUpgrade:
		c.mu.Lock()
		if c.probe != t || !c.probed || c.state != stateOpen {
			c.mu.Unlock()
			c.cancelUpgrade(t)
			return false
		}
		c.upgradeTimer.Stop()
		c.probe = nil
		c.probed = false
		if c.pollActive {
			select { // the pending GET answers with a noop
			case c.pollWake <- struct{}{}:
			default:
			}
		}
		c.transport = TransportWebSocket
		c.ws = t
		s.stats.openPolling.Add(-1)
		s.stats.openWebSocket.Add(1)
		s.stats.upgrades.Add(1)
		if len(c.queue) > 0 {
			c.kickLocked()
		}
		c.mu.Unlock()
		return true
	default:
		c.badInput("unexpected packet during upgrade", nil)
		c.cancelUpgrade(t)
		return false
	}
}

// writeLoop is the websocket writer: it runs while frames are queued,
// writing each batch as consecutive frames gathered into one syscall, and
// exits when the queue is empty. After the session closed it closes the
// websocket once the queue is written.
func (c *Conn) writeLoop() {
	s := c.srv
	for {
		c.mu.Lock()
		t := c.ws
		if len(c.queue) == 0 {
			c.writing = false
			closed := c.state != stateOpen
			c.mu.Unlock()
			if closed {
				t.closeGracefully(websocket.StatusNormalClosure, "")
			}
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()

		n, err := t.writeBatch(batch)
		s.stats.packetsOut.Add(uint64(len(batch)))
		s.stats.bytesOut.Add(uint64(n))
		clear(batch)
		c.mu.Lock()
		c.queued -= n
		if c.queued < 0 {
			c.queued = 0
		}
		c.mu.Unlock()
		if err != nil {
			c.close(ReasonTransportError, closeDrop)
			t.closeNow()
		}
	}
}

// writeBatch writes frames as consecutive websocket messages, flushed
// together. It returns the payload bytes written.
func (t *wsConn) writeBatch(frames []engineio.Frame) (int, error) {
	t.out.cork()
	n := 0
	var err error
	for _, f := range frames {
		typ := websocket.MessageText
		if f.Binary {
			typ = websocket.MessageBinary
		}
		if err = t.conn.Write(context.Background(), typ, f.Data); err != nil {
			break
		}
		n += len(f.Data)
	}
	if ferr := t.out.uncork(); err == nil {
		err = ferr
	}
	return n, err
}

// batchWriter sits between the library's small bufio.Writer and the
// connection. While corked it gathers writes in a pooled buffer, so a batch
// of frames costs one syscall; uncorked it writes through (control frames the
// library sends on its own).
type batchWriter struct {
	nc     net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.corked {
		return b.nc.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= maxBatchBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchWriter) flushLocked() error {
	_, err := b.nc.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

func (b *batchWriter) cork() {
	b.mu.Lock()
	b.corked = true
	b.buf = batchPool.Get().(*[]byte)
	b.mu.Unlock()
}

func (b *batchWriter) uncork() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.flushLocked()
	b.corked = false
	if cap(*b.buf) <= maxBatchBytes*2 {
		batchPool.Put(b.buf)
	}
	b.buf = nil
	return err
}

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
// through batchWriter, which frames and gathers a whole batch before the
// syscall.
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
	in   stashReader     // what the library reads: bytes waitReadable read, then nc

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
	t.out.closing()
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
	// The library reads through br, which it resets onto the net.Conn we
	// return: that one hands out the stash first.
	h.t.in = stashReader{Conn: h.t.nc, t: h.t}
	return &h.t.in, bufio.NewReadWriter(h.t.br, bufio.NewWriterSize(h.t.out, wsWriteBufSize)), nil
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
	id := s.newID()
	s.setCookie(w, id) // on the 101 response
	t, err := s.accept(w, r)
	if err != nil {
		return
	}
	c := s.newConn(id, req, TransportWebSocket, t)
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
	taken := c.state == stateOpen && (c.transport == TransportWebSocket || c.probe != nil)
	c.mu.Unlock()
	if taken {
		s.ignoreWebSocket(w, r)
		return
	}
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

// ignoreWebSocket answers a websocket for a session that has one already
// (upgraded, or upgrading): as the reference server does, it completes the
// handshake and closes the new websocket at once, leaving the session alone.
func (s *Server) ignoreWebSocket(w http.ResponseWriter, r *http.Request) {
	s.stats.wsIgnored.Add(1)
	t, err := s.accept(w, r)
	if err != nil {
		return
	}
	s.group.goFunc(func() {
		t.closeGracefully(websocket.StatusNormalClosure, "")
		s.untrack(t)
	})
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
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// The library has answered with close code 1009.
				s.stats.tooLarge.Add(1)
				c.tooLarge.Store(true)
				c.badInput("websocket message over MaxPayload", nil)
			}
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
		p, err := c.decodeWSPacket(data, typ == websocket.MessageBinary)
		if err != nil {
			s.stats.parse.Add(1)
			c.badInput("undecodable packet", err)
			c.transportFailed(t, ReasonParseError)
			return false
		}
		c.mu.Lock()
		probe := c.probe == t
		mine := c.ws == t
		open := c.state == stateOpen
		c.mu.Unlock()
		switch {
		case probe:
			if !c.onProbePacket(t, p) {
				return false
			}
		case mine && open:
			c.readMu.Lock()
			err = c.onPacket(p)
			c.readMu.Unlock()
			if err != nil {
				return false
			}
		case mine:
			// The session is closed and its writer may still flush the
			// queue before the close handshake: discard what the client
			// sends meanwhile and leave closing t to the writer (or to the
			// read failing), rather than cut the flush short.
			s.stats.packetsIn.Add(1)
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
	return !t.closing && !t.bufferedLocked()
}

// waitReadable parks until the connection has bytes to read, without the
// library's call chain on the stack. The wait ends with a non-blocking read
// into a pooled stash, which the library then reads from: one syscall where
// peeking and then reading took two. Errors are left for the read that
// follows.
func (t *wsConn) waitReadable() {
	if t.raw == nil {
		return
	}
	t.mu.Lock()
	skip := t.closing || t.bufferedLocked()
	t.mu.Unlock()
	if skip {
		return
	}
	op := rawOps.Get().(*rawOp)
	op.t = t
	_ = t.raw.Read(op.read)
	op.t = nil
	rawOps.Put(op)
}

// bufferedLocked reports whether received bytes wait in memory, in the
// library's reader or in the stash: then the socket may never signal them
// again, and the next read must not wait for it. t.mu is held.
func (t *wsConn) bufferedLocked() bool {
	return t.br.Buffered() > 0 || t.in.buf != nil
}

// stashPool holds the buffers of stashReader: one is in use only between
// the wakeup of a reader and the library taking the bytes.
var stashPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// fillStash reads what the socket fd has without waiting. It returns false
// when there is nothing yet (wait and call again), true when there are
// bytes in the stash, or EOF or an error for the next read to find.
func (t *wsConn) fillStash(fd uintptr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.in.buf != nil {
		return true // the closing goroutine reads; or bytes wait already
	}
	bp := stashPool.Get().(*[]byte)
	n, wait := readNonblock(fd, (*bp)[:cap(*bp)])
	if n == 0 {
		stashPool.Put(bp)
		return !wait
	}
	*bp = (*bp)[:n]
	t.in.buf, t.in.off = bp, 0
	return true
}

// stashReader is the connection as the library sees it: reads return
// first the bytes that waitReadable read, then the connection's. buf and
// off are guarded by t.mu.
type stashReader struct {
	net.Conn
	t   *wsConn
	buf *[]byte // pooled; nil when empty
	off int
}

func (r *stashReader) Read(p []byte) (int, error) {
	r.t.mu.Lock()
	if r.buf == nil {
		r.t.mu.Unlock()
		return r.Conn.Read(p)
	}
	n := copy(p, (*r.buf)[r.off:])
	r.off += n
	if r.off == len(*r.buf) {
		*r.buf = (*r.buf)[:cap(*r.buf)]
		stashPool.Put(r.buf)
		r.buf, r.off = nil, 0
	}
	r.t.mu.Unlock()
	return n, nil
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
		if len(c.queue) == 0 && t.out.hasPending() {
			// What a non-blocking write left (finishWrite).
			c.mu.Unlock()
			if _, err := t.out.writeFrames(nil); err != nil {
				c.close(ReasonTransportError, closeDrop)
				t.closeNow()
			}
			continue
		}
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

		n, err := t.writeBatch(c.wsFrames(batch))
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

// inlineWritableLocked reports whether a sender may write frames itself
// (finishWrite): the transport is a websocket with a file descriptor and no
// writer runs.
func (c *Conn) inlineWritableLocked() bool {
	return c.transport == TransportWebSocket && c.ws != nil && c.ws.raw != nil &&
		!c.writing && c.probe == nil
}

// maxInlineBytes bounds what a sender writes itself: what the socket does
// not take at once is copied.
const maxInlineBytes = 16 << 10

// finishWrite writes frames (n payload bytes, counted in c.queued) without
// waiting on the socket; c.writing is set, and t is c.ws. It runs on a
// sender's goroutine (Send, when the writer was idle) or a pool worker
// (Enqueue). What the socket does not take stays in the
// batchWriter, and the connection's writer goroutine starts for it, and for
// a close that happened meanwhile. Frames queued meanwhile go back to the
// pool; else the writer is idle again.
func (c *Conn) finishWrite(t *wsConn, frames []engineio.Frame, n int) {
	s := c.srv
	pending, err := t.out.tryWriteFrames(t.raw, c.wsFrames(frames))
	s.stats.packetsOut.Add(uint64(len(frames)))
	s.stats.bytesOut.Add(uint64(n))
	c.mu.Lock()
	c.queued = max(c.queued-n, 0)
	if err == nil && !pending && c.state == stateOpen {
		if len(c.queue) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		s.schedule(c)
		return
	}
	c.mu.Unlock()
	if err != nil {
		c.close(ReasonTransportError, closeDrop)
		t.closeNow()
	}
	s.group.goFunc(c.writeLoop)
}

// writeBatch writes frames as consecutive websocket messages, gathered into
// one write. It returns the payload bytes written.
func (t *wsConn) writeBatch(frames []engineio.Frame) (int, error) {
	return t.out.writeFrames(frames)
}

// batchWriter is the connection's writer. It frames data messages itself:
// a server frame is unmasked and uncompressed, so its header is 2 to 10
// bytes, and the library's per-message path (channel locks, a flush per
// frame) costs more than the frame. The library writes only the control
// frames it sends on its own (pong, close) and the handshake response,
// through its small bufio.Writer, which hands each control frame over in one
// Write call; mu keeps those whole between our batches.
type batchWriter struct {
	nc      net.Conn
	mu      sync.Mutex
	closed  bool   // a close frame was sent: no data frame may follow
	pending []byte // what a non-blocking write left, written first
}

// bigPayload is the size from which a payload is written from its own
// memory (writev) instead of being copied into the batch buffer.
const bigPayload = 16 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Write is the library's path: handshake response and control frames.
// What a non-blocking write left goes first: it may end mid-frame.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 {
		_, err := b.nc.Write(b.pending)
		b.pending = nil
		if err != nil {
			return 0, err
		}
	}
	return b.nc.Write(p)
}

func (b *batchWriter) hasPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending) > 0
}

// closing stops data frames before the library sends its close frame.
func (b *batchWriter) closing() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}

// rawOp is one raw read or write: its method values, bound once per pooled
// op, spare the allocation of a closure per syscall.
type rawOp struct {
	buf   []byte
	n     int
	err   error
	t     *wsConn
	write func(fd uintptr) bool
	read  func(fd uintptr) bool
}

var rawOps = sync.Pool{New: func() any {
	op := new(rawOp)
	op.write = op.doWrite
	op.read = op.doRead
	return op
}}

// doWrite writes op.buf once without waiting.
func (op *rawOp) doWrite(fd uintptr) bool {
	op.n, op.err = writeNonblock(fd, op.buf)
	return true
}

// doRead fills op.t's stash (fillStash).
func (op *rawOp) doRead(fd uintptr) bool { return op.t.fillStash(fd) }

// tryWriteFrames writes frames with one non-blocking write on raw. The bytes
// the socket does not take are kept (pending true) for the next writeFrames,
// which must follow.
func (b *batchWriter) tryWriteFrames(raw syscall.RawConn, frames []engineio.Frame) (pending bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, net.ErrClosed
	}
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, f := range frames {
		buf = appendFrameHeader(buf, f.Binary, len(f.Data))
		buf = append(buf, f.Data...)
	}
	rest := buf
	if len(b.pending) == 0 {
		op := rawOps.Get().(*rawOp)
		op.buf = buf
		if rerr := raw.Write(op.write); rerr != nil {
			err = rerr
		} else if op.err != nil {
			err = op.err
		}
		rest = buf[op.n:]
		*op = rawOp{write: op.write, read: op.read}
		rawOps.Put(op)
	}
	if err == nil && len(rest) > 0 {
		b.pending = append(b.pending, rest...)
		pending = true
	}
	*bp = buf[:0]
	batchPool.Put(bp)
	return pending, err
}

// writeFrames writes frames as text or binary websocket messages, in as few
// syscalls as the batch size allows. It returns the payload bytes written.
func (b *batchWriter) writeFrames(frames []engineio.Frame) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, net.ErrClosed
	}
	if len(b.pending) > 0 {
		_, err := b.nc.Write(b.pending)
		b.pending = nil
		if err != nil {
			return 0, err
		}
	}
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxBatchBytes*2 {
			*bp = buf[:0]
			batchPool.Put(bp)
		}
	}()
	n := 0
	for _, f := range frames {
		buf = appendFrameHeader(buf, f.Binary, len(f.Data))
		if len(f.Data) >= bigPayload {
			bufs := net.Buffers{buf, f.Data}
			if _, err := bufs.WriteTo(b.nc); err != nil {
				return n, err
			}
			buf = buf[:0]
		} else {
			buf = append(buf, f.Data...)
			if len(buf) >= maxBatchBytes {
				if _, err := b.nc.Write(buf); err != nil {
					return n, err
				}
				buf = buf[:0]
			}
		}
		n += len(f.Data)
	}
	if len(buf) > 0 {
		if _, err := b.nc.Write(buf); err != nil {
			return n, err
		}
	}
	return n, nil
}

// appendFrameHeader appends the header of an unmasked, final, uncompressed
// server frame (RFC 6455 section 5.2).
func appendFrameHeader(buf []byte, binary bool, n int) []byte {
	op := byte(0x1) // text
	if binary {
		op = 0x2
	}
	buf = append(buf, 0x80|op)
	switch {
	case n <= 125:
		return append(buf, byte(n))
	case n <= 0xffff:
		return append(buf, 126, byte(n>>8), byte(n))
	default:
		return append(buf, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

package transport

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// closeWait bounds the close handshake: how long a closed websocket waits
// for the peer's close frame (or the end of its input, after a protocol
// error) before its TCP connection is closed anyway.
const closeWait = 5 * time.Second

// minWriteTimeout is the least time a blocking write may take; otherwise a
// write may take a ping interval and timeout, past which the heartbeat
// would have failed the session anyway.
const minWriteTimeout = 5 * time.Second

// handshakeWriteTimeout bounds the write of the 101 response.
const handshakeWriteTimeout = 10 * time.Second

// wsConn is one accepted websocket: the frame layer of RFC 6455 over its
// net.Conn (wsread.go, wswrite.go). The read side (the stash and the fields
// up to hdr) belongs to the connection's one reader at a time: its reader
// goroutine, or the poller while it is parked.
type wsConn struct {
	s   *Server
	nc  net.Conn
	raw syscall.RawConn // nil without a file descriptor (TLS, the portable build)
	out batchWriter

	// Read side. buf[r:w] are bytes received and not yet handled: a pooled
	// stash (stashKind), held only while it has some.
	buf       []byte
	r, w      int
	stash     *[]byte
	small     *[smallRead]byte
	stashKind stashKind
	idle      bool  // the next fill waits for a new message
	rerr      error // a read error, returned by every later read
	hdr       [ws.MaxHeaderSize - 2]byte
	hdrRead   int  // bytes Read has handed out of the frame header being read
	hdrLen7   byte // that header's 7-bit payload length field

	closeSent atomic.Bool // our close frame is out (or the peer's was answered)

	mu     sync.Mutex
	closed bool          // closeNow ran
	done   chan struct{} // closed by closeNow; made by a closeGracefully waiting for it

	pollState // the poller's, guarded by its mutex
}

// closeNow closes the connection at once: out of the poller and the
// server's set first (a parked websocket has no reader left to do it), then
// the net.Conn, which releases a writer blocked in a write, and only then
// the writer's lock.
func (t *wsConn) closeNow() {
	t.s.poller.forget(t)
	t.s.untrack(t)
	_ = t.nc.Close()
	t.out.shut()
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		if t.done != nil {
			close(t.done)
		}
	}
	t.mu.Unlock()
}

// sendClose sends our close frame, once.
func (t *wsConn) sendClose(code ws.StatusCode, reason string) error {
	if !t.closeSent.CompareAndSwap(false, true) {
		return nil
	}
	return t.out.writeControl(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// closeTimedOut closes a websocket whose heartbeat failed: first an empty
// close frame, as engine.io sends, if it can go out at once (the peer is
// likely gone, so nothing waits for its answer), then the connection.
func (t *wsConn) closeTimedOut() {
	if t.closeSent.CompareAndSwap(false, true) {
		t.out.tryCloseFrame(t.raw)
	}
	t.closeNow()
}

// closeGracefully runs the server's side of the close handshake (RFC 6455
// section 7.1.2): it sends a close frame and waits until the connection's
// reader has got the peer's close and closed the connection, for closeWait
// at most. The wait is on the caller's goroutine, one the Server owns, so
// that Shutdown waits for it too.
func (t *wsConn) closeGracefully(code ws.StatusCode, reason string) {
	if t.closeSent.Load() {
		return
	}
	if err := t.sendClose(code, reason); err != nil {
		t.closeNow()
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	if t.done == nil {
		t.done = make(chan struct{})
	}
	done := t.done
	t.mu.Unlock()
	timer := time.NewTimer(closeWait)
	select {
	case <-done:
	case <-timer.C:
		t.closeNow()
	}
	timer.Stop()
}

// fail fails the connection (RFC 6455 section 7.1.7) from its reader: a
// close frame with code and the end of our output (a TCP half-close, as
// npm ws ends the socket after a protocol error), then its input is read
// until the peer's close frame or its end, for closeWait at most, so that
// closing does not reset a connection whose peer has not read our close
// frame yet. Frames are read as long as they parse (after bad UTF-8 the
// stream is still whole); past a frame that does not, bytes are discarded.
func (t *wsConn) fail(code ws.StatusCode, reason string) {
	defer t.closeNow()
	if t.sendClose(code, reason) != nil {
		return
	}
	if cw, ok := t.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = t.nc.SetReadDeadline(time.Now().Add(closeWait))
	if code != ws.StatusMessageTooBig { // else a payload is left unread
		if err := t.drainFrames(); !errors.As(err, new(*wsFailure)) {
			return
		}
	}
	t.releaseStash()
	if t.rerr != nil {
		return
	}
	bp := stashPool.Get().(*[]byte)
	for {
		if _, err := t.nc.Read(*bp); err != nil {
			break
		}
	}
	stashPool.Put(bp)
}

// drainFrames reads and drops messages until the peer's close frame
// (errPeerClosed) or another error.
func (t *wsConn) drainFrames() error {
	for {
		if t.buffered() == 0 {
			if err := t.fill(true); err != nil {
				return err
			}
		}
		if _, _, _, err := t.nextMessage(t.s.cfg.MaxPayload); err != nil {
			return err
		}
	}
}

// accept upgrades r to a websocket; on failure the upgrader has answered.
//
// ws.HTTPUpgrader hijacks the connection from net/http and writes the 101
// response (with w's headers: the session cookie, CORS) through net/http's
// buffers, which are dropped once the handler returns: the only bytes kept
// from them are those the client sent right after its request, which
// net/http read already; they go to the stash.
func (s *Server) accept(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	u := ws.HTTPUpgrader{Header: w.Header(), Timeout: handshakeWriteTimeout}
	nc, brw, _, err := u.Upgrade(r, w)
	if err != nil {
		s.stats.wsAccept.Add(1)
		if nc != nil {
			_ = nc.Close()
		}
		return nil, err
	}
	t := &wsConn{s: s, nc: nc, raw: rawConnOf(nc)}
	t.out.nc = nc
	t.out.timeout = max(s.cfg.PingInterval+s.cfg.PingTimeout, minWriteTimeout)
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		t.setEarly(early)
	}
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
// handshake and closes the new websocket at once with 1000, leaving the
// session alone. Its goroutine is the websocket's reader for the close
// handshake.
func (s *Server) ignoreWebSocket(w http.ResponseWriter, r *http.Request) {
	s.stats.wsIgnored.Add(1)
	t, err := s.accept(w, r)
	if err != nil {
		return
	}
	s.group.goFunc(func() {
		defer t.closeNow()
		if t.sendClose(ws.StatusNormalClosure, "") != nil {
			return
		}
		_ = t.nc.SetReadDeadline(time.Now().Add(closeWait))
		_ = t.drainFrames() // until the peer's close, its end, or the deadline
		t.releaseStash()
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
//
// Reading a message goes deep (the frame layer, then the layers above), and
// a goroutine's stack never shrinks below a quarter of what it used, so a
// reader that waits where it has read keeps 4-8 KiB. A busy client (two
// messages within busyGap) keeps such a reader all the same: it costs nothing
// per message. Otherwise, once no received bytes wait in the stash, the
// reader exits and leaves the wait to the poller (no goroutine, no buffer)
// or, where there is none, to a fresh goroutine with the runtime's starting
// stack size, which waits in waitReadable.
func (c *Conn) readLoop(t *wsConn) {
	s := c.srv
	for {
		t.waitReadable()
		if !c.readBurst(t) {
			t.releaseStash()
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

// waitReadable waits until t has received bytes, at the bottom of the
// reader's stack: in the runtime's poller with no buffer (a file
// descriptor), or in a read into a small buffer. Errors stick for the read
// that follows.
func (t *wsConn) waitReadable() {
	if t.buffered() == 0 && t.rerr == nil {
		_ = t.fill(true)
	}
}

// readBurst reads and handles messages until no received bytes wait (true:
// wait for more) or t is done (false).
//
//go:noinline
func (c *Conn) readBurst(t *wsConn) (wait bool) {
	s := c.srv
	for {
		data, binary, ok, err := t.nextMessage(s.cfg.MaxPayload)
		if err != nil {
			c.readFailed(t, err)
			return false
		}
		if !ok {
			return true
		}
		p, err := c.decodeWSPacket(data, binary)
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
	}
}

// readFailed ends the session or the upgrade on a read error: the peer's
// close or the end of the connection, or bad input, which fails the
// websocket with its close code after the session closed.
func (c *Conn) readFailed(t *wsConn, err error) {
	s := c.srv
	var f *wsFailure
	if !errors.As(err, &f) {
		c.transportFailed(t, readErrorReason(err))
		return
	}
	switch f {
	case errTooBig:
		s.stats.tooLarge.Add(1)
		c.tooLarge.Store(true)
		c.badInput("websocket message over MaxPayload", nil)
	case errBadUTF8:
		s.stats.utf8.Add(1)
		c.badInput("invalid UTF-8 in text frame", nil)
	default:
		s.stats.wsProtocol.Add(1)
		c.badInput("websocket protocol error", err)
	}
	c.transportFailedMode(t, ReasonTransportError, closeDetach)
	t.fail(f.code, f.msg)
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
	case errors.Is(err, errPeerClosed),
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
		if _, err := t.out.writeFrames([]engineio.Frame{s.probeFrame}); err != nil {
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
				c.close(writeErrorReason(err), closeDrop)
				t.closeNow()
			}
			continue
		}
		if len(c.queue) == 0 {
			c.writing = false
			closed := c.state != stateOpen
			c.mu.Unlock()
			if closed {
				t.closeGracefully(ws.StatusNormalClosure, "")
			}
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()

		n, err := t.out.writeFrames(c.wsFrames(batch))
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
			c.close(writeErrorReason(err), closeDrop)
			t.closeNow()
		}
	}
}

// writeErrorReason is the session's close reason for a failed write: a
// transport error, unless the websocket was closing already (the peer's
// close frame came, or ours went), which the reader reports in its own
// words when it is first.
func writeErrorReason(err error) string {
	if errors.Is(err, errWriterClosed) {
		return ReasonTransportClose
	}
	return ReasonTransportError
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
		c.close(writeErrorReason(err), closeDrop)
		t.closeNow()
	}
	s.group.goFunc(c.writeLoop)
}

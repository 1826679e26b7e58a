package transport

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The server side of WebSocket framing (RFC 6455 section 5) is ours, built
// on github.com/gobwas/ws's frame-level functions: ReadHeaderBuffer,
// CheckHeader, Cipher, ParseCloseFrameData, CheckCloseFrameData and
// WriteHeaderBuffer. That package starts no goroutines and keeps no buffers
// per connection, so what an idle websocket holds, when a read buffer is
// taken and returned, and how frames are batched into writes are decided
// here.

// Read buffering. A connection holds no read buffer while nothing it
// received waits to be handled: bytes are read into a pooled stash, which
// goes back to the pool once taken. Payloads of stashSize or more are read
// from the socket straight into the message.
const (
	stashSize = 4096
	// smallRead is the buffer a connection without a file descriptor (TLS,
	// or the portable build) waits in for its next message; allocated on
	// first use, only for those.
	smallRead = 128
	// msgGrow bounds how far a message buffer grows ahead of the bytes
	// that arrived: a peer-declared length is never trusted for allocation.
	msgGrow = 32 << 10
)

var stashPool = sync.Pool{New: func() any { b := make([]byte, stashSize); return &b }}

// stashKind says where wsConn.buf comes from.
type stashKind uint8

const (
	stashNone   stashKind = iota
	stashPooled           // *stash from stashPool
	stashSmall            // *small
	stashOwned            // allocated for the early bytes of a handshake
)

// wsFailure is a violation of the protocol by the peer: the connection is
// failed with code (RFC 6455 section 7.1.7).
type wsFailure struct {
	code ws.StatusCode
	msg  string
}

func (e *wsFailure) Error() string {
	return fmt.Sprintf("transport: websocket: %s (close %d)", e.msg, e.code)
}

var (
	// errPeerClosed: the peer's close frame arrived (and was answered).
	errPeerClosed = errors.New("transport: websocket closed by the peer")
	// errTooBig: a message over Config.MaxPayload; the connection is failed
	// with 1009.
	errTooBig = &wsFailure{code: ws.StatusMessageTooBig, msg: "message over MaxPayload"}
	// errControlLength: a control frame whose length is in an extended
	// length field (RFC 6455 section 5.5).
	errControlLength = &wsFailure{code: ws.StatusProtocolError, msg: "control frame with an extended payload length"}
	// errBadUTF8: a text message that is not UTF-8 (RFC 6455 section 8.1).
	errBadUTF8 = &wsFailure{code: ws.StatusInvalidFramePayloadData, msg: "invalid UTF-8 in text message"}
)

func protocolError(err error) *wsFailure {
	return &wsFailure{code: ws.StatusProtocolError, msg: err.Error()}
}

// buffered returns how many received bytes wait in the stash.
func (t *wsConn) buffered() int { return t.w - t.r }

// releaseStash gives an empty stash back (a pooled one to the pool).
func (t *wsConn) releaseStash() {
	if t.stashKind == stashPooled {
		t.buf = t.buf[:cap(t.buf)]
		stashPool.Put(t.stash)
		t.stash = nil
	}
	t.buf, t.r, t.w, t.stashKind = nil, 0, 0, stashNone
}

// consumed releases the stash once everything in it was taken.
func (t *wsConn) consumed() {
	if t.r == t.w && t.stashKind != stashNone {
		t.releaseStash()
	}
}

// setEarly stashes bytes the client sent right after its handshake request,
// which net/http read already.
func (t *wsConn) setEarly(p []byte) {
	if len(p) <= stashSize {
		t.takePooled()
	} else {
		t.buf, t.stashKind = make([]byte, len(p)), stashOwned
	}
	t.w = copy(t.buf, p)
}

func (t *wsConn) takePooled() {
	t.stash = stashPool.Get().(*[]byte)
	t.buf, t.stashKind, t.r, t.w = *t.stash, stashPooled, 0, 0
}

// makeRoom makes the stash able to take more bytes: a pooled one, unless
// small will do (a connection without a file descriptor waiting for its
// next message), with the unread bytes moved to its front.
func (t *wsConn) makeRoom(small bool) {
	switch {
	case t.stashKind == stashNone && small:
		if t.small == nil {
			t.small = new([smallRead]byte)
		}
		t.buf, t.stashKind, t.r, t.w = t.small[:], stashSmall, 0, 0
	case t.stashKind == stashNone:
		t.takePooled()
	case t.stashKind == stashSmall && !small, t.stashKind == stashOwned:
		old := t.buf[t.r:t.w]
		t.takePooled()
		t.w = copy(t.buf, old)
	case t.w == len(t.buf):
		t.w = copy(t.buf, t.buf[t.r:t.w])
		t.r = 0
	}
}

// fill reads at least one more byte into the stash, waiting for it as
// needed. idle says the connection waits for a new message. A read error
// sticks: every later read returns it.
func (t *wsConn) fill(idle bool) error {
	if t.rerr != nil {
		return t.rerr
	}
	if t.raw != nil {
		// Wait in the runtime's poller without a buffer; the stash is taken
		// once bytes are there (rawOp.doRead).
		op := rawOps.Get().(*rawOp)
		op.t, op.n = t, 0
		err := t.raw.Read(op.read)
		n := op.n
		op.t = nil
		rawOps.Put(op)
		if err != nil {
			t.rerr = err
			return err
		}
		if n > 0 {
			return nil
		}
		// EOF or an error: the blocking read below returns it.
	}
	t.makeRoom(idle && t.raw == nil)
	n, err := t.nc.Read(t.buf[t.w:])
	t.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	t.rerr = err
	t.consumed()
	return err
}

// readRaw is rawOp.doRead: one non-blocking read into the stash, false if
// there is nothing to read yet.
func (t *wsConn) readRaw(fd uintptr) (n int, done bool) {
	fresh := t.stashKind == stashNone
	t.makeRoom(false)
	n, wait := readNonblock(fd, t.buf[t.w:])
	t.w += n
	if n == 0 && fresh {
		t.releaseStash() // hold no buffer while waiting
	}
	return n, !wait
}

// Read is the stash as an io.Reader, for ws.ReadHeaderBuffer: buffered
// bytes, else what one read of the connection brings.
func (t *wsConn) Read(p []byte) (int, error) {
	if t.buffered() == 0 {
		if err := t.fill(t.idle); err != nil {
			return 0, err
		}
	}
	n := copy(p, t.buf[t.r:t.w])
	if i := 1 - t.hdrRead; i >= 0 && i < n {
		t.hdrLen7 = p[i] & 0x7f // the header's second byte
	}
	t.hdrRead += n
	t.r += n
	t.consumed()
	return n, nil
}

// readFull fills p from the stash and the connection.
func (t *wsConn) readFull(p []byte) error {
	for len(p) > 0 {
		if t.buffered() == 0 {
			if err := t.fill(false); err != nil {
				return unexpectedEOF(err)
			}
		}
		n := copy(p, t.buf[t.r:t.w])
		t.r += n
		p = p[n:]
		t.consumed()
	}
	return nil
}

// appendPayload appends n payload bytes to msg. What the stash holds is
// copied; a remainder of stashSize or more is read straight into msg,
// which grows with the bytes that arrive, never ahead of them by more than
// msgGrow.
func (t *wsConn) appendPayload(msg []byte, n int) ([]byte, error) {
	for n > 0 {
		if k := min(n, t.buffered()); k > 0 {
			msg = append(msg, t.buf[t.r:t.r+k]...)
			t.r += k
			n -= k
			t.consumed()
			continue
		}
		if n < stashSize {
			if err := t.fill(false); err != nil {
				return msg, unexpectedEOF(err)
			}
			continue
		}
		if t.rerr != nil {
			return msg, unexpectedEOF(t.rerr)
		}
		if cap(msg) == len(msg) {
			msg = slices.Grow(msg, min(n, max(len(msg), msgGrow)))
		}
		k, err := t.nc.Read(msg[len(msg):min(cap(msg), len(msg)+n)])
		msg = msg[:len(msg)+k]
		n -= k
		if err != nil && n > 0 {
			t.rerr = err
			return msg, unexpectedEOF(err)
		}
	}
	return msg, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nextMessage reads frames until a whole data message has arrived and
// returns it (ok), answering control frames on the way: a ping with a pong
// of the same payload, a close with the close handshake (errPeerClosed).
// It returns ok false, without reading, when it would have to wait for a
// new message: nothing is buffered and no fragmented message is in
// progress. Messages over limit bytes (their fragments summed) are refused
// with errTooBig, without reading their payload; protocol violations come
// as *wsFailure. Only the connection's reader calls it.
func (t *wsConn) nextMessage(limit int) (msg []byte, binary, ok bool, err error) {
	started := false
	for {
		if !started && t.buffered() == 0 {
			return nil, false, false, t.rerr
		}
		t.idle = !started
		t.hdrRead = 0
		h, err := ws.ReadHeaderBuffer(t, t.hdr[:])
		if err != nil {
			switch {
			case errors.Is(err, ws.ErrHeaderLengthMSB):
				// A 64-bit length of 2^63 or more: over any limit (1009,
				// as npm ws answers).
				return nil, false, false, errTooBig
			case errors.Is(err, ws.ErrHeaderLengthUnexpected):
				return nil, false, false, protocolError(err)
			}
			return nil, false, false, unexpectedEOF(err)
		}
		if h.OpCode.IsControl() && t.hdrLen7 > 125 {
			// A control frame's length must fit the 7-bit field (RFC 6455
			// section 5.5), even when the extended field holds a small one.
			return nil, false, false, errControlLength
		}
		state := ws.StateServerSide // no extension is ever negotiated
		if started {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, false, false, protocolError(err)
		}
		if h.OpCode.IsControl() {
			if err := t.onControl(h); err != nil {
				return nil, false, false, err
			}
			continue
		}
		if h.Length > int64(limit-len(msg)) {
			return nil, false, false, errTooBig
		}
		if !started {
			started = true
			binary = h.OpCode == ws.OpBinary
		}
		start := len(msg)
		if msg, err = t.appendPayload(msg, int(h.Length)); err != nil {
			return nil, false, false, err
		}
		ws.Cipher(msg[start:], h.Mask, 0)
		if !h.Fin {
			continue
		}
		if !binary && !utf8.Valid(msg) {
			return nil, false, false, errBadUTF8
		}
		if msg == nil {
			msg = []byte{}
		}
		return msg, binary, true, nil
	}
}

// onControl reads and answers one control frame (RFC 6455 section 5.5).
func (t *wsConn) onControl(h ws.Header) error {
	var p []byte
	if h.Length > 0 {
		p = make([]byte, h.Length) // at most 125 bytes (CheckHeader)
		if err := t.readFull(p); err != nil {
			return err
		}
		ws.Cipher(p, h.Mask, 0)
	}
	switch h.OpCode {
	case ws.OpPing:
		return t.out.writeControl(ws.OpPong, p)
	case ws.OpClose:
		return t.onPeerClose(p)
	}
	return nil // a pong: nothing to do
}

// onPeerClose checks the peer's close frame and answers it with the same
// code and reason (none for an empty one), as RFC 6455 section 5.5.1 asks,
// unless ours was sent first. Invalid close payloads fail the connection:
// 1002, or 1007 for a reason that is not UTF-8.
func (t *wsConn) onPeerClose(p []byte) error {
	var body []byte
	switch {
	case len(p) == 1:
		return &wsFailure{code: ws.StatusProtocolError, msg: "close frame with a 1-byte payload"}
	case len(p) >= 2:
		code, reason := ws.ParseCloseFrameData(p)
		if err := checkCloseCode(code, reason); err != nil {
			if errors.Is(err, ws.ErrProtocolInvalidUTF8) {
				return &wsFailure{code: ws.StatusInvalidFramePayloadData, msg: err.Error()}
			}
			return &wsFailure{code: ws.StatusProtocolError, msg: fmt.Sprintf("close code %d: %v", code, err)}
		}
		body = ws.NewCloseFrameBody(code, reason)
	}
	if t.closeSent.CompareAndSwap(false, true) {
		if err := t.out.writeControl(ws.OpClose, body); err != nil {
			return err
		}
	}
	return errPeerClosed
}

// checkCloseCode is ws.CheckCloseFrameData with the codes the reference
// server's websocket library accepts: 1012-1014 (registered with IANA after
// RFC 6455) are valid, 5000 and up are not (RFC 6455 section 7.4.2).
func checkCloseCode(code ws.StatusCode, reason string) error {
	if code >= 5000 {
		return ws.ErrProtocolStatusCodeUnknown
	}
	if code >= 1012 && code <= 1014 {
		code = ws.StatusNormalClosure // check the reason only
	}
	return ws.CheckCloseFrameData(code, reason)
}

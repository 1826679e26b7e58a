package transport

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// maxBatchBytes is how much a batch gathers before it is written.
const maxBatchBytes = 64 << 10

// bigPayload is the size from which a payload is written from its own
// memory (writev) instead of being copied into the batch buffer.
const bigPayload = 16 << 10

// errWriterClosed: a close frame was sent (by either side's close
// handshake) or the connection closed; no data frame may follow.
var errWriterClosed = fmt.Errorf("transport: websocket closing: %w", net.ErrClosed)

// batchWriter writes a websocket's frames: data messages in batches
// (consecutive frames gathered into one syscall) and control frames (pong,
// close), each whole, between batches. A server frame is unmasked and
// uncompressed, so its header is 2 to 10 bytes, encoded by
// ws.WriteHeaderBuffer into the batch itself.
//
// Every blocking write has a deadline: timeout from now, or the flush
// deadline of a graceful close if that comes first. Non-blocking writes
// (tryWriteFrames) need none.
type batchWriter struct {
	nc      net.Conn
	timeout time.Duration

	mu       sync.Mutex
	closed   bool   // a close frame was sent, or the connection closed: no data frame may follow
	pending  []byte // what a non-blocking write left, written first
	deadline int64  // the write deadline set last, unix nanoseconds

	until atomic.Int64 // the flush deadline of a graceful close (0: none)
}

// frameBuf is a batch being encoded; pooled.
type frameBuf struct {
	buf []byte
	hdr [ws.MaxHeaderSize]byte
}

// Write appends p: ws.WriteHeaderBuffer writes headers through it.
func (f *frameBuf) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	return len(p), nil
}

// header appends the header of a final, unmasked frame (RFC 6455 section
// 5.2).
func (f *frameBuf) header(op ws.OpCode, n int) {
	_ = ws.WriteHeaderBuffer(f, ws.Header{Fin: true, OpCode: op, Length: int64(n)}, f.hdr[:])
}

func dataOp(binary bool) ws.OpCode {
	if binary {
		return ws.OpBinary
	}
	return ws.OpText
}

var framePool = sync.Pool{New: func() any { return &frameBuf{buf: make([]byte, 0, 4096)} }}

func putFrameBuf(f *frameBuf) {
	if cap(f.buf) <= maxBatchBytes*2 {
		f.buf = f.buf[:0]
		framePool.Put(f)
	}
}

// setDeadlineLocked gives the next blocking write its deadline. Moving it
// costs a timer update, so it moves only once it has aged a quarter of the
// timeout.
func (b *batchWriter) setDeadlineLocked() {
	if until := b.until.Load(); until != 0 {
		if b.deadline != until {
			b.deadline = until
			_ = b.nc.SetWriteDeadline(time.Unix(0, until))
		}
		return
	}
	d := time.Now().Add(b.timeout).UnixNano()
	if d-b.deadline > int64(b.timeout/4) {
		b.deadline = d
		_ = b.nc.SetWriteDeadline(time.Unix(0, d))
	}
}

// limit bounds every later blocking write, and one in progress, by t: the
// flush of a graceful close. It does not wait for the writer (its caller
// holds the session's lock).
func (b *batchWriter) limit(t time.Time) {
	b.until.Store(t.UnixNano())
	_ = b.nc.SetWriteDeadline(t)
}

// flushPendingLocked writes what a non-blocking write left; it may end
// mid-frame, so it goes before anything else.
func (b *batchWriter) flushPendingLocked() error {
	if len(b.pending) == 0 {
		return nil
	}
	_, err := b.nc.Write(b.pending)
	b.pending = nil
	return err
}

func (b *batchWriter) hasPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending) > 0
}

// shut stops every later write; the connection is closed.
func (b *batchWriter) shut() {
	b.mu.Lock()
	b.closed = true
	b.pending = nil
	b.mu.Unlock()
}

// writeControl writes one control frame in one write. After a close frame
// no frame follows.
func (b *batchWriter) writeControl(op ws.OpCode, payload []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errWriterClosed
	}
	if op == ws.OpClose {
		b.closed = true
	}
	b.setDeadlineLocked()
	f := framePool.Get().(*frameBuf)
	defer putFrameBuf(f)
	f.buf = append(f.buf, b.pending...)
	b.pending = nil
	f.header(op, len(payload))
	f.buf = append(f.buf, payload...)
	_, err := b.nc.Write(f.buf)
	return err
}

// closeFrameWait bounds the write of tryCloseFrame without a file
// descriptor to write to without waiting.
const closeFrameWait = 50 * time.Millisecond

// tryCloseFrame sends an empty close frame, only if it can go whole at once:
// no writer holds the connection and nothing half written is pending. With
// raw it is one non-blocking write; without, a write bounded by
// closeFrameWait. It reports whether it was sent; either way no data frame
// follows.
func (b *batchWriter) tryCloseFrame(raw syscall.RawConn) bool {
	if !b.mu.TryLock() {
		return false // a writer is blocked on the socket: the close cuts it
	}
	defer b.mu.Unlock()
	if b.closed || len(b.pending) > 0 {
		b.closed = true
		return false
	}
	b.closed = true
	frame := []byte{0x80 | byte(ws.OpClose), 0}
	if raw == nil {
		b.deadline = time.Now().Add(closeFrameWait).UnixNano()
		_ = b.nc.SetWriteDeadline(time.Unix(0, b.deadline))
		n, err := b.nc.Write(frame)
		return err == nil && n == len(frame)
	}
	op := rawOps.Get().(*rawOp)
	op.buf = frame
	err := raw.Write(op.write)
	sent := err == nil && op.err == nil && op.n == len(op.buf)
	*op = rawOp{write: op.write, read: op.read}
	rawOps.Put(op)
	return sent
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

// doRead reads into op.t's stash without waiting; false: nothing yet.
func (op *rawOp) doRead(fd uintptr) bool {
	var done bool
	op.n, done = op.t.readRaw(fd)
	return done
}

// tryWriteFrames writes frames with one non-blocking write on raw. The bytes
// the socket does not take are kept (pending true) for the next writeFrames,
// which must follow.
func (b *batchWriter) tryWriteFrames(raw syscall.RawConn, frames []engineio.Frame) (pending bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, errWriterClosed
	}
	f := framePool.Get().(*frameBuf)
	for _, fr := range frames {
		f.header(dataOp(fr.Binary), len(fr.Data))
		f.buf = append(f.buf, fr.Data...)
	}
	rest := f.buf
	if len(b.pending) == 0 {
		op := rawOps.Get().(*rawOp)
		op.buf = f.buf
		if rerr := raw.Write(op.write); rerr != nil {
			err = rerr
		} else if op.err != nil {
			err = op.err
		}
		rest = f.buf[op.n:]
		*op = rawOp{write: op.write, read: op.read}
		rawOps.Put(op)
	}
	if err == nil && len(rest) > 0 {
		b.pending = append(b.pending, rest...)
		pending = true
	}
	putFrameBuf(f)
	return pending, err
}

// writeFrames writes frames as text or binary websocket messages, in as few
// syscalls as the batch size allows. It returns the payload bytes written.
func (b *batchWriter) writeFrames(frames []engineio.Frame) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errWriterClosed
	}
	b.setDeadlineLocked()
	if err := b.flushPendingLocked(); err != nil {
		return 0, err
	}
	f := framePool.Get().(*frameBuf)
	defer putFrameBuf(f)
	n := 0
	for _, fr := range frames {
		f.header(dataOp(fr.Binary), len(fr.Data))
		if len(fr.Data) >= bigPayload {
			bufs := net.Buffers{f.buf, fr.Data}
			if _, err := bufs.WriteTo(b.nc); err != nil {
				return n, err
			}
			f.buf = f.buf[:0]
		} else {
			f.buf = append(f.buf, fr.Data...)
			if len(f.buf) >= maxBatchBytes {
				if _, err := b.nc.Write(f.buf); err != nil {
					return n, err
				}
				f.buf = f.buf[:0]
			}
		}
		n += len(fr.Data)
	}
	if len(f.buf) > 0 {
		if _, err := b.nc.Write(f.buf); err != nil {
			return n, err
		}
	}
	return n, nil
}

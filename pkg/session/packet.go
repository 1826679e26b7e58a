package session

import (
	"fmt"
	"sync"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// encodeFrames encodes p once as Engine.IO frames: a message packet ("4"
// followed by the Socket.IO text) and then one binary frame per attachment.
// The frames are immutable: a broadcast hands the same slice to every
// recipient's connection.
func encodeFrames(p *socketio.Packet) []engineio.Frame {
	return encodeFramesElems(p, nil)
}

// encodeFramesElems is encodeFrames with, when elems is not nil, p.Data
// replaced by the JSON array of the raw elements elems (built in place, not
// first on its own).
func encodeFramesElems(p *socketio.Packet, elems [][]byte) []engineio.Frame {
	if len(p.Attachments) > 0 {
		switch p.Type {
		case socketio.Event:
			q := *p
			q.Type = socketio.BinaryEvent
			p = &q
		case socketio.Ack:
			q := *p
			q.Type = socketio.BinaryAck
			p = &q
		}
	}
	// An upper bound of the text: "4", the type, the attachment count and
	// '-', the namespace and ',', the id, the data.
	n := 1 + 1 + 21 + len(p.Namespace) + 1 + 20 + len(p.Data)
	if elems != nil {
		n += 1 + len(elems)
		for _, e := range elems {
			n += len(e)
		}
	}
	fm := frameMemPool.Get().(*frameMem)
	text := fm.text(n)
	text = append(text, '4')
	text = p.Append(text)
	if elems != nil {
		text = socketio.AppendArray(text, elems...)
	}
	fm.commit(text)
	frames := fm.frames(1 + len(p.Attachments))
	frameMemPool.Put(fm)
	frames[0] = engineio.Frame{Data: text[:len(text):len(text)]}
	for i, a := range p.Attachments {
		frames[i+1] = engineio.Frame{Data: a, Binary: true}
	}
	return frames
}

// frameMem hands out the memory of encoded frames, so that a small packet
// costs no allocation of its own: its text is carved from a shared chunk of
// bytes and its frame slice from a shared chunk of frames. What is carved
// belongs to those frames for good: a chunk is never reused, only replaced
// once full, and the garbage collector frees it when the last frame carved
// from it is gone (a frame that a slow connection still queues keeps its
// chunk, frameChunkBytes at most, alive). Each frameMem is used by one
// goroutine at a time (frameMemPool).
type frameMem struct {
	buf  []byte           // len: carved so far
	fs   []engineio.Frame // len: carved so far
	open int              // room of the text handed out, until commit
}

const (
	frameChunkBytes  = 8 << 10
	frameChunkFrames = 128
	maxCarvedText    = 1 << 10 // larger texts get memory of their own
	maxCarvedFrames  = 8
)

var frameMemPool = sync.Pool{New: func() any { return new(frameMem) }}

// text returns an empty slice with room for n bytes; commit must follow.
func (m *frameMem) text(n int) []byte {
	m.open = 0
	if n > maxCarvedText {
		return make([]byte, 0, n)
	}
	if cap(m.buf)-len(m.buf) < n {
		m.buf = make([]byte, 0, frameChunkBytes)
	}
	m.open = n
	return m.buf[len(m.buf) : len(m.buf) : len(m.buf)+n]
}

// commit marks text, built on what text returned, as carved: nothing is
// carved from under it again. (A text that outgrew its room was moved by
// append and is not in the chunk.)
func (m *frameMem) commit(text []byte) {
	if m.open > 0 && len(text) <= m.open {
		m.buf = m.buf[:len(m.buf)+len(text)]
	}
	m.open = 0
}

// frames returns n zero frames.
func (m *frameMem) frames(n int) []engineio.Frame {
	if n > maxCarvedFrames {
		return make([]engineio.Frame, n)
	}
	if cap(m.fs)-len(m.fs) < n {
		m.fs = make([]engineio.Frame, 0, frameChunkFrames)
	}
	i := len(m.fs)
	m.fs = m.fs[:i+n]
	return m.fs[i : i+n : i+n]
}

// eventPacket builds the EVENT (or BINARY_EVENT) packet of an emit.
func eventPacket(event string, args []any) (*socketio.Packet, error) {
	if isReserved(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	elems, atts, err := socketio.MarshalArgs(args, 0)
	if err != nil {
		return nil, err
	}
	return rawEventPacket(socketio.AppendEvent(nil, event, elems...), atts), nil
}

func rawEventPacket(data []byte, atts [][]byte) *socketio.Packet {
	p := &socketio.Packet{Type: socketio.Event, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = socketio.BinaryEvent
	}
	return p
}

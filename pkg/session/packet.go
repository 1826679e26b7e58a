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
	p = binaryType(p)
	frames := make([]engineio.Frame, 1+len(p.Attachments))
	frames[0] = engineio.Frame{Data: appendText(make([]byte, 0, textBound(p, elems)), p, elems)}
	for i, a := range p.Attachments {
		frames[i+1] = engineio.Frame{Data: a, Binary: true}
	}
	return frames
}

// binaryType returns p with its type made binary if it has attachments.
func binaryType(p *socketio.Packet) *socketio.Packet {
	if len(p.Attachments) == 0 {
		return p
	}
	q := *p
	switch p.Type {
	case socketio.Event:
		q.Type = socketio.BinaryEvent
	case socketio.Ack:
		q.Type = socketio.BinaryAck
	default:
		return p
	}
	return &q
}

// textBound is an upper bound of p's message text: "4", the type, the
// attachment count and '-', the namespace and ',', the id, the data (or the
// array of elems).
func textBound(p *socketio.Packet, elems [][]byte) int {
	n := 1 + 1 + 21 + len(p.Namespace) + 1 + 20 + len(p.Data)
	if elems != nil {
		n += 1 + len(elems)
		for _, e := range elems {
			n += len(e)
		}
	}
	return n
}

// appendText appends p's Engine.IO message text to buf.
func appendText(buf []byte, p *socketio.Packet, elems [][]byte) []byte {
	buf = append(buf, '4')
	buf = p.Append(buf)
	if elems != nil {
		buf = socketio.AppendArray(buf, elems...)
	}
	return buf
}

// maxScratchText bounds the packets sendPacket encodes in a pooled
// scratch buffer; larger ones get memory of their own.
const maxScratchText = 4 << 10

// scratch is the reusable memory of one packet sent to one connection.
type scratch struct {
	buf   []byte
	frame [1]engineio.Frame
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 512)} }}

// sendPacket encodes p (with elems, see encodeFramesElems) and sends it to
// c. A small packet without attachments is encoded in a pooled scratch
// buffer and sent with SendCopy, which copies only what the connection
// cannot write at once: a reply written inline allocates nothing, and
// what a slow connection keeps is exactly what its write queue counts.
func sendPacket(c conn, p *socketio.Packet, elems [][]byte, volatile bool) error {
	n := textBound(p, elems)
	if len(p.Attachments) > 0 || n > maxScratchText {
		return c.Send(encodeFramesElems(p, elems), volatile)
	}
	sc := scratchPool.Get().(*scratch)
	sc.buf = appendText(sc.buf[:0], p, elems)
	sc.frame[0] = engineio.Frame{Data: sc.buf}
	err := c.SendCopy(sc.frame[:], volatile)
	sc.frame[0] = engineio.Frame{}
	scratchPool.Put(sc)
	return err
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

package session

import (
	"fmt"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// encodeFrames encodes p once as Engine.IO frames: a message packet ("4"
// followed by the Socket.IO text) and then one binary frame per attachment.
// The frames are immutable: a broadcast hands the same slice to every
// recipient's connection.
func encodeFrames(p *socketio.Packet) []engineio.Frame {
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
	frames := make([]engineio.Frame, 1+len(p.Attachments))
	text := make([]byte, 0, 24+len(p.Namespace)+len(p.Data))
	text = append(text, '4')
	frames[0] = engineio.Frame{Data: p.Append(text)}
	for i, a := range p.Attachments {
		frames[i+1] = engineio.Frame{Data: a, Binary: true}
	}
	return frames
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

package engineio

import (
	"encoding/base64"
	"errors"
)

// PacketType is the type of an Engine.IO packet, sent as one ASCII digit.
type PacketType byte

// Packet types of Engine.IO v4 ("Packet encoding" in the spec).
const (
	PacketOpen    PacketType = 0
	PacketClose   PacketType = 1
	PacketPing    PacketType = 2
	PacketPong    PacketType = 3
	PacketMessage PacketType = 4
	PacketUpgrade PacketType = 5
	PacketNoop    PacketType = 6
)

// RecordSeparator joins the packets of a polling payload.
const RecordSeparator = 0x1e

// Errors returned by the decoders.
var (
	ErrEmptyPacket   = errors.New("engineio: empty packet")
	ErrUnknownPacket = errors.New("engineio: unknown packet type")
	ErrBadBase64     = errors.New("engineio: invalid base64 in binary packet")
)

var packetNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the spec's name of the packet type ("open", "message", ...).
func (t PacketType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return "unknown"
}

// Valid reports whether t is one of the seven Engine.IO packet types.
func (t PacketType) Valid() bool { return t <= PacketNoop }

// Packet is one decoded Engine.IO packet. Binary is true for a binary message
// (the only kind of binary packet in v4); Data is then the raw bytes.
type Packet struct {
	Type   PacketType
	Data   []byte
	Binary bool
}

// AppendPacket appends the text encoding of p (type digit followed by its
// data) to dst. A binary packet is appended as its raw data, which is what a
// WebSocket binary frame carries.
func AppendPacket(dst []byte, p Packet) []byte {
	if p.Binary {
		return append(dst, p.Data...)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// Frame encodes p once into a Frame ready for any transport.
func (p Packet) Frame() Frame {
	if p.Binary {
		return Frame{Data: p.Data, Binary: true}
	}
	return Frame{Data: AppendPacket(make([]byte, 0, 1+len(p.Data)), p)}
}

// TextFrame returns the frame of a text packet of type t carrying data.
func TextFrame(t PacketType, data []byte) Frame {
	return Packet{Type: t, Data: data}.Frame()
}

// DecodePacket decodes one packet as carried by a WebSocket message: a binary
// message is a binary message packet, a text message is a type digit and its
// data. The returned Data aliases msg.
func DecodePacket(msg []byte, binary bool) (Packet, error) {
	if binary {
		return Packet{Type: PacketMessage, Data: msg, Binary: true}, nil
	}
	if len(msg) == 0 {
		return Packet{}, ErrEmptyPacket
	}
	t := PacketType(msg[0] - '0')
	if !t.Valid() {
		return Packet{}, ErrUnknownPacket
	}
	return Packet{Type: t, Data: msg[1:len(msg):len(msg)]}, nil
}

// decodePayloadPacket decodes one record of a polling payload: a text packet,
// or "b" followed by base64 for a binary message.
func decodePayloadPacket(rec []byte) (Packet, error) {
	if len(rec) > 0 && rec[0] == 'b' {
		return decodeBase64Message(rec[1:])
	}
	return DecodePacket(rec, false)
}

// decodeBase64Message decodes the base64 data of a binary message.
func decodeBase64Message(enc []byte) (Packet, error) {
	data := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(data, enc)
	if err != nil {
		return Packet{}, ErrBadBase64
	}
	return Packet{Type: PacketMessage, Data: data[:n], Binary: true}, nil
}

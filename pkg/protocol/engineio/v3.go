package engineio

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Engine.IO v3 (https://github.com/socketio/engine.io-protocol/tree/v3),
// spoken by socket.io-client 2.x. What differs from v4 on the wire:
//
//   - A polling payload frames each packet with its length: "<n>:<packet>",
//     n counted in UTF-16 code units (JavaScript string length), binary
//     packets as "b4" + base64 (counted with the "b"). A client that
//     supports binary (no "b64=1" in the query) receives a payload holding
//     binary packets in the binary framing instead, each packet as
//     <0 text | 1 binary> <length digits, one byte each> 0xff <packet>, text
//     packets in UTF-8 and counted in bytes.
//   - A binary packet carries its type: a WebSocket binary message and a
//     binary payload record start with the type byte (4 for a message).
//   - The client pings and the server answers with a pong.

// Errors of the v3 payload decoder.
var (
	ErrBadLength   = errors.New("engineio: invalid length in v3 payload")
	ErrBinaryType  = errors.New("engineio: binary v3 packet that is not a message")
	ErrBadUTF8V3   = errors.New("engineio: v3 text packet that is not UTF-8")
	errLengthLimit = 10 // digits of a record length: more is not a polling body
)

// AppendPayloadV3 appends the v3 polling payload of frames to dst. With
// binary true (the client supports binary) and at least one binary frame,
// the payload is in the binary framing and isBinary is true: it must be
// served as application/octet-stream. Otherwise it is text.
func AppendPayloadV3(dst []byte, frames []Frame, binary bool) (out []byte, isBinary bool) {
	if binary && hasBinary(frames) {
		for _, f := range frames {
			kind, n := byte(0), len(f.Data)
			if f.Binary {
				kind, n = 1, n+1
			}
			dst = append(dst, kind)
			var digits [20]byte
			for _, d := range strconv.AppendInt(digits[:0], int64(n), 10) {
				dst = append(dst, d-'0')
			}
			dst = append(dst, 0xff)
			if f.Binary {
				dst = append(dst, byte(PacketMessage))
			}
			dst = append(dst, f.Data...)
		}
		return dst, true
	}
	for _, f := range frames {
		if f.Binary {
			n := 2 + base64.StdEncoding.EncodedLen(len(f.Data))
			dst = strconv.AppendInt(dst, int64(n), 10)
			dst = append(dst, ':', 'b', '0'+byte(PacketMessage))
			dst = base64.StdEncoding.AppendEncode(dst, f.Data)
			continue
		}
		dst = strconv.AppendInt(dst, int64(utf16Len(f.Data)), 10)
		dst = append(dst, ':')
		dst = append(dst, f.Data...)
	}
	return dst, false
}

func hasBinary(frames []Frame) bool {
	for _, f := range frames {
		if f.Binary {
			return true
		}
	}
	return false
}

// utf16Len returns the length of the UTF-8 text b as a JavaScript string:
// UTF-16 code units, two for a character outside the BMP. An invalid byte
// counts as one (it decodes to U+FFFD).
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		n++
		if r > 0xffff {
			n++
		}
	}
	return n
}

// utf16Prefix returns how many bytes of b make its first n UTF-16 code
// units; false if b is shorter or n ends inside a surrogate pair.
func utf16Prefix(b []byte, n int) (int, bool) {
	i := 0
	for n > 0 {
		if i >= len(b) {
			return 0, false
		}
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			n--
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		units := 1
		if r > 0xffff {
			units = 2
		}
		if units > n {
			return 0, false
		}
		i += size
		n -= units
	}
	return i, true
}

// DecodePayloadV3 decodes a v3 polling body and calls fn for each packet in
// order, stopping at the first error (its own or fn's). binary says the
// body came as application/octet-stream (the binary framing); otherwise it
// is the text framing. Text packets alias payload; binary ones are copies
// when they come as base64, aliases otherwise. An empty payload is an error.
func DecodePayloadV3(payload []byte, binary bool, fn func(Packet) error) error {
	if len(payload) == 0 {
		return ErrEmptyPacket
	}
	if binary {
		return decodeBinaryPayloadV3(payload, fn)
	}
	for len(payload) > 0 {
		colon := -1
		for i := 0; i < len(payload) && i <= errLengthLimit; i++ {
			if payload[i] == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 {
			return ErrBadLength
		}
		n, err := strconv.Atoi(string(payload[:colon]))
		if err != nil || n < 0 {
			return ErrBadLength
		}
		rest := payload[colon+1:]
		size, ok := utf16Prefix(rest, n)
		if !ok {
			return ErrBadLength
		}
		rec := rest[:size:size]
		payload = rest[size:]
		if len(rec) == 0 {
			continue // "0:" is an empty payload's encoding: nothing in it
		}
		if !utf8.Valid(rec) {
			// Text, in either framing; the length counts characters, which
			// bytes that are not UTF-8 do not make.
			return ErrBadUTF8V3
		}
		p, err := DecodePacketV3(rec, false)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func decodeBinaryPayloadV3(payload []byte, fn func(Packet) error) error {
	for len(payload) > 0 {
		kind := payload[0]
		if kind > 1 {
			return ErrBadLength
		}
		n, i := 0, 1
		for ; i < len(payload) && payload[i] != 0xff; i++ {
			d := payload[i]
			if d > 9 || i > errLengthLimit {
				return ErrBadLength
			}
			n = n*10 + int(d)
		}
		if i == 1 || i >= len(payload) || len(payload)-i-1 < n {
			return ErrBadLength
		}
		rec := payload[i+1 : i+1+n : i+1+n]
		payload = payload[i+1+n:]
		if kind == 0 && !utf8.Valid(rec) {
			return ErrBadUTF8V3
		}
		p, err := DecodePacketV3(rec, kind == 1)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// DecodePacketV3 decodes one v3 packet as a WebSocket message carries it: a
// binary message is the type byte (a message's) and the data; a text
// message is a type digit and its data, or "b" and a type digit and base64
// data for a binary message sent by a client without binary support.
func DecodePacketV3(msg []byte, binary bool) (Packet, error) {
	if binary {
		if len(msg) == 0 {
			return Packet{}, ErrEmptyPacket
		}
		if PacketType(msg[0]) != PacketMessage {
			return Packet{}, ErrBinaryType
		}
		return Packet{Type: PacketMessage, Data: msg[1:len(msg):len(msg)], Binary: true}, nil
	}
	if len(msg) > 0 && msg[0] == 'b' {
		if len(msg) < 2 || PacketType(msg[1]-'0') != PacketMessage {
			return Packet{}, ErrBinaryType
		}
		return decodeBase64Message(msg[2:])
	}
	return DecodePacket(msg, false)
}

// AppendBinaryMessageV3 appends what a v3 WebSocket binary message carries
// for the binary message data: the message type byte, then data.
func AppendBinaryMessageV3(dst, data []byte) []byte {
	dst = append(dst, byte(PacketMessage))
	return append(dst, data...)
}

// AppendBase64MessageV3 appends the text form of a binary message for a v3
// client without binary support: "b4" and the base64 of data.
func AppendBase64MessageV3(dst, data []byte) []byte {
	dst = append(dst, 'b', '0'+byte(PacketMessage))
	return base64.StdEncoding.AppendEncode(dst, data)
}

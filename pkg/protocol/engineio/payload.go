package engineio

import (
	"bytes"
	"encoding/base64"
)

// AppendPayload appends the polling payload of frames to dst: the frames
// joined by the record separator, each binary frame written as "b" followed by
// the standard base64 of its data ("HTTP long-polling" in the spec).
func AppendPayload(dst []byte, frames []Frame) []byte {
	for i, f := range frames {
		if i > 0 {
			dst = append(dst, RecordSeparator)
		}
		if f.Binary {
			dst = append(dst, 'b')
			dst = base64.StdEncoding.AppendEncode(dst, f.Data)
			continue
		}
		dst = append(dst, f.Data...)
	}
	return dst
}

// PayloadLen returns the length of the polling payload AppendPayload would
// append for frames.
func PayloadLen(frames []Frame) int {
	n := 0
	for i, f := range frames {
		if i > 0 {
			n++
		}
		if f.Binary {
			n += 1 + base64.StdEncoding.EncodedLen(len(f.Data))
			continue
		}
		n += len(f.Data)
	}
	return n
}

// DecodePayload decodes the packets of a polling payload in order and calls fn
// for each; it stops at the first packet that does not decode and returns its
// error (the packets before it have been delivered, as in the reference
// server), or at the first error fn returns. Text packets alias payload;
// binary packets are freshly decoded. An empty payload is an error.
func DecodePayload(payload []byte, fn func(Packet) error) error {
	for {
		rec := payload
		i := bytes.IndexByte(payload, RecordSeparator)
		if i >= 0 {
			rec, payload = payload[:i:i], payload[i+1:]
		}
		p, err := decodePayloadPacket(rec)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
	}
}

package socketio

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidPacket is wrapped by every decoding error.
var ErrInvalidPacket = errors.New("socketio: invalid packet")

// Limits bound what a Decoder accepts. Zero fields mean the defaults.
type Limits struct {
	MaxAttachments int // default 10
	MaxDepth       int // JSON nesting depth, default 100
}

// Default limits, as in socket.io-parser (maxAttachments) and a nesting
// depth far beyond what real payloads use.
const (
	DefaultMaxAttachments = 10
	DefaultMaxDepth       = 100
)

func (l Limits) maxAttachments() int {
	if l.MaxAttachments > 0 {
		return l.MaxAttachments
	}
	return DefaultMaxAttachments
}

func (l Limits) maxDepth() int {
	if l.MaxDepth > 0 {
		return l.MaxDepth
	}
	return DefaultMaxDepth
}

// Decoder decodes the packets of one connection, reassembling binary
// packets from their text part and the attachments that follow it.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	Limits Limits

	pending *Packet // binary packet waiting for attachments
	want    int     // attachments pending needs in all
	nsp     string  // last namespace decoded, reused to spare an allocation
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPacket, fmt.Sprintf(format, args...))
}

// Decode decodes a text packet. For a binary packet with attachments it
// returns (nil, nil) and the packet completes in AddAttachment. The data must
// not be modified afterwards (the packet refers to it).
//
// Validation follows socket.io-parser (decodeString and isPayloadValid) and
// is stricter where the Node parser is loose: the JSON must be valid UTF-8,
// nested at most Limits.MaxDepth deep, and followed by nothing; the ack id
// must fit a uint64. A text packet while a binary packet still waits for
// attachments is an error (Node: "got plaintext data when reconstructing a
// packet"). After any error the Decoder is reset; the protocol says the
// connection should then be closed.
func (d *Decoder) Decode(text []byte) (*Packet, error) {
	p := new(Packet)
	done, err := d.DecodeInto(text, p)
	if !done {
		return nil, err
	}
	return p, nil
}

// DecodeInto is Decode into *p, for a caller that keeps the packet in
// memory of its own (on its stack, say) and so spares Decode's allocation.
// It reports whether *p holds a complete packet: false with a nil error
// means a binary packet now waits for its attachments (the Decoder keeps a
// copy of it, and AddAttachment returns it once complete). *p is
// overwritten in every case; the data must not be modified afterwards.
func (d *Decoder) DecodeInto(text []byte, p *Packet) (bool, error) {
	done, _, err := d.decode(text, p, nil, false)
	return done, err
}

// DecodeElements is DecodeInto that also appends to elems the top-level
// elements of the data of a complete text packet whose data is an array (an
// EVENT or an ACK), as SplitArray would return them: they are found while
// the data is validated, which spares the caller a second pass. For any
// other packet, on error, and for a binary packet that waits for its
// attachments (its caller splits its data once it is complete), elems comes
// back as given.
func (d *Decoder) DecodeElements(text []byte, p *Packet, elems [][]byte) (bool, [][]byte, error) {
	n := len(elems)
	done, out, err := d.decode(text, p, elems, true)
	if !done || err != nil {
		return done, elems[:n], err
	}
	return done, out, nil
}

func (d *Decoder) decode(text []byte, p *Packet, elems [][]byte, elements bool) (bool, [][]byte, error) {
	*p = Packet{}
	if d.pending != nil {
		d.Reset()
		return false, nil, invalid("text packet while a binary packet waits for attachments")
	}
	if len(text) == 0 {
		return false, nil, invalid("empty packet")
	}
	c := text[0]
	if c < '0' || c > '6' {
		return false, nil, invalid("unknown packet type %q", c)
	}
	p.Type, p.Namespace = Type(c-'0'), "/"
	i := 1

	// Attachment count: <n>-
	binary := p.Type == BinaryEvent || p.Type == BinaryAck
	count := 0
	if binary {
		start, max := i, d.Limits.maxAttachments()
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			if count = count*10 + int(text[i]-'0'); count > max {
				return false, nil, invalid("more than %d attachments", max)
			}
			i++
		}
		if i == start || i >= len(text) || text[i] != '-' {
			return false, nil, invalid("malformed attachment count")
		}
		i++
	}

	// Namespace: /<name> up to a comma or the end.
	if i < len(text) && text[i] == '/' {
		start := i
		for i < len(text) && text[i] != ',' {
			i++
		}
		nsp := text[start:i]
		if i < len(text) {
			i++ // the comma
		}
		if !utf8.Valid(nsp) {
			return false, nil, invalid("namespace is not valid UTF-8")
		}
		if len(nsp) > 1 {
			if string(nsp) != d.nsp {
				d.nsp = string(nsp)
			}
			p.Namespace = d.nsp
		}
	}

	// Ack id: digits.
	if i < len(text) && text[i] >= '0' && text[i] <= '9' {
		var id uint64
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			v := uint64(text[i] - '0')
			if id > (1<<64-1-v)/10 {
				return false, nil, invalid("ack id overflows")
			}
			id = id*10 + v
			i++
		}
		p.ID, p.HasID = id, true
	}

	// JSON data: the rest.
	if i < len(text) {
		attachments := -1 // no placeholders in a plain packet
		if binary {
			attachments = count
		}
		start := len(elems)
		var err error
		if elems, err = scanJSONElems(text[i:], d.Limits.maxDepth(), attachments, elems, elements); err != nil {
			return false, nil, err
		}
		p.Data = trimSpace(text[i:])
		if (p.Type == Event || p.Type == BinaryEvent) && len(elems) > start {
			// The name is the first element, found already.
			if len(p.Data) == 0 || p.Data[0] != '[' {
				return false, nil, invalid("EVENT data must be an array")
			}
			if err := checkEventName(elems[start]); err != nil {
				return false, nil, err
			}
		} else if err := checkPayload(p.Type, p.Data); err != nil {
			return false, nil, err
		}
	} else if err := checkPayload(p.Type, p.Data); err != nil {
		return false, nil, err
	}

	if binary && count > 0 {
		q := *p
		q.Attachments = make([][]byte, 0, count)
		d.pending, d.want = &q, count
		return false, nil, nil
	}
	return true, elems, nil
}

// isReserved reports whether s, the contents of a JSON string, is one of
// the event names a client may not emit (socket.io-parser RESERVED_EVENTS).
func isReserved(s []byte) bool {
	if bytes.IndexByte(s, '\\') < 0 {
		switch string(s) {
		case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
			return true
		}
		return false
	}
	return unquotedEqual(s, "connect") || unquotedEqual(s, "connect_error") ||
		unquotedEqual(s, "disconnect") || unquotedEqual(s, "disconnecting") ||
		unquotedEqual(s, "newListener") || unquotedEqual(s, "removeListener")
}

// checkPayload mirrors socket.io-parser's isPayloadValid on validated data.
func checkPayload(t Type, data []byte) error {
	var first byte
	if len(data) > 0 {
		first = data[0]
	}
	switch t {
	case Connect:
		if data != nil && first != '{' {
			return invalid("CONNECT data must be an object")
		}
	case Disconnect:
		if data != nil {
			return invalid("DISCONNECT carries no data")
		}
	case ConnectError:
		if first != '{' && first != '"' {
			return invalid("CONNECT_ERROR data must be a string or an object")
		}
	case Ack, BinaryAck:
		if first != '[' {
			return invalid("ACK data must be an array")
		}
	case Event, BinaryEvent:
		if first != '[' {
			return invalid("EVENT data must be an array")
		}
		if _, err := eventName(data); err != nil {
			return err
		}
	}
	return nil
}

// eventName returns the raw first element of an event's data after checking
// that it is a number or a string that is not a reserved name.
func eventName(data []byte) ([]byte, error) {
	i := skipSpace(data, 1)
	if i >= len(data) || data[i] == ']' {
		return nil, invalid("EVENT data must not be empty")
	}
	end, err := skipValue(data, i)
	if err != nil {
		return nil, err
	}
	raw := data[i:end]
	return raw, checkEventName(raw)
}

// checkEventName checks that raw, an event's first element, is a number or
// a string that is not a reserved name.
func checkEventName(raw []byte) error {
	switch c := raw[0]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return nil
	case c != '"':
		return invalid("event name must be a string or a number")
	}
	if isReserved(raw[1 : len(raw)-1]) {
		return invalid("reserved event name %s", raw)
	}
	return nil
}

// AddAttachment adds the next binary attachment; it returns the packet once
// its last attachment has arrived, else (nil, nil). An attachment with no
// binary packet pending is an error. The packet refers to b, which must not
// be modified afterwards.
func (d *Decoder) AddAttachment(b []byte) (*Packet, error) {
	p := d.pending
	if p == nil {
		return nil, invalid("binary attachment with no binary packet pending")
	}
	p.Attachments = append(p.Attachments, b)
	if len(p.Attachments) < d.want {
		return nil, nil
	}
	d.pending, d.want = nil, 0
	return p, nil
}

// Pending reports whether a binary packet is waiting for attachments.
func (d *Decoder) Pending() bool { return d.pending != nil }

// Reset drops a binary packet waiting for attachments.
func (d *Decoder) Reset() { d.pending, d.want = nil, 0 }

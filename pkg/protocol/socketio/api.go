package socketio

// CONTRACT STUB: the exported codec surface other packages build on. The
// codec helper replaces these bodies (and may add more), keeping signatures.

import "errors"

// ErrInvalidPacket is wrapped by every decoding error.
var ErrInvalidPacket = errors.New("socketio: invalid packet")

// Append appends the text encoding of p to dst. BINARY_EVENT and BINARY_ACK
// write len(p.Attachments) as the attachment count; the namespace is written
// only when it is not "/"; the ID only when HasID.
func (p *Packet) Append(dst []byte) []byte { panic("todo") }

// Limits bound what a Decoder accepts. Zero fields mean the defaults.
type Limits struct {
	MaxAttachments int // default 10
	MaxDepth       int // JSON nesting depth, default 100
}

// Decoder decodes the packets of one connection, reassembling binary
// packets from their text part and the attachments that follow it.
// A Decoder is not safe for concurrent use.
type Decoder struct{ Limits Limits }

// Decode decodes a text packet. For a binary packet with attachments it
// returns (nil, nil) and the packet completes in AddAttachment. The data must
// not be modified afterwards (the packet refers to it).
func (d *Decoder) Decode(text []byte) (*Packet, error) { panic("todo") }

// AddAttachment adds the next binary attachment; it returns the packet once
// its last attachment has arrived, else (nil, nil). An attachment with no
// binary packet pending is an error.
func (d *Decoder) AddAttachment(b []byte) (*Packet, error) { panic("todo") }

// Pending reports whether a binary packet is waiting for attachments.
func (d *Decoder) Pending() bool { panic("todo") }

// SplitArray returns the raw top-level elements of a JSON array (sub-slices
// of data, no copy). data must already be valid JSON (Decoder validates).
func SplitArray(data []byte) ([][]byte, error) { panic("todo") }

// AppendArray appends the JSON array of the given raw JSON elements.
func AppendArray(dst []byte, elems ...[]byte) []byte { panic("todo") }

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte { panic("todo") }

// MarshalArgs encodes Go values as the JSON elements of an event or ack.
// []byte values (top level) become binary attachments with placeholders,
// json.RawMessage is used as is, anything else goes through encoding/json.
// It returns the raw elements and the attachments, numbered from start.
func MarshalArgs(args []any, start int) (elems [][]byte, attachments [][]byte, err error) {
	panic("todo")
}

package session

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Args is a received argument list: the raw JSON array of an ack (or of a
// server-side event) and the binary attachments its placeholders refer to.
// Nothing is re-encoded: Data and Attachments are the bytes as received.
type Args struct {
	Data        []byte   // the JSON array, as received
	Attachments [][]byte // binary attachments, in placeholder order

	elems [][]byte // the top-level elements of Data, split on first use
}

func newArgs(p *socketio.Packet) *Args {
	return &Args{Data: p.Data, Attachments: p.Attachments}
}

func (a *Args) split() [][]byte {
	if a.elems == nil && len(a.Data) > 0 {
		a.elems, _ = socketio.SplitArray(a.Data)
	}
	return a.elems
}

// Raw returns the raw JSON elements (binary placeholders intact).
func (a *Args) Raw() [][]byte { return a.split() }

// Len returns the number of arguments.
func (a *Args) Len() int { return len(a.split()) }

// Decode decodes argument i into v, as encoding/json does. If the argument
// is a binary placeholder and v is a *[]byte, v gets the attachment.
func (a *Args) Decode(i int, v any) error { return decodeArg(a.split(), a.Attachments, i, v) }

// Binary returns the attachment that argument i stands for, if it is one.
func (a *Args) Binary(i int) ([]byte, bool) { return binaryArg(a.split(), a.Attachments, i) }

func decodeArg(elems, atts [][]byte, i int, v any) error {
	if i < 0 || i >= len(elems) {
		return fmt.Errorf("session: no argument %d (have %d)", i, len(elems))
	}
	if b, ok := v.(*[]byte); ok {
		if att, ok := socketio.Attachment(elems[i], atts); ok {
			*b = att
			return nil
		}
	}
	return json.Unmarshal(elems[i], v)
}

func binaryArg(elems, atts [][]byte, i int) ([]byte, bool) {
	if i < 0 || i >= len(elems) {
		return nil, false
	}
	return socketio.Attachment(elems[i], atts)
}

// EventHandler handles an event a client sent to a socket. The handlers of
// one socket run one at a time, in the order the events arrived.
//
// A handler registered with On or OnAny owns ev: it may keep it and answer
// later, from any goroutine. One registered with OnBorrowed or
// OnAnyBorrowed only borrows it (see OnBorrowed).
type EventHandler func(s *Socket, ev *Event)

// Event is an event received from a client.
type Event struct {
	Name        string   // the event name (first element of Data)
	Data        []byte   // the packet's JSON array [name, args...], as received
	Attachments [][]byte // binary attachments, in placeholder order

	args   [][]byte // raw elements of Data after the name
	socket *Socket
	id     uint64
	hasAck bool
	acked  atomic.Bool
	elems  [6][]byte // room for the name and the first arguments (args)
}

// Args returns the raw JSON arguments (binary placeholders intact), without
// the event name.
func (e *Event) Args() [][]byte { return e.args }

// Decode decodes argument i (0 is the first after the name) into v, as
// encoding/json does; a binary argument decodes into a *[]byte.
func (e *Event) Decode(i int, v any) error { return decodeArg(e.args, e.Attachments, i, v) }

// Binary returns the attachment that argument i stands for, if it is one.
func (e *Event) Binary(i int) ([]byte, bool) { return binaryArg(e.args, e.Attachments, i) }

// HasAck reports whether the client waits for an ack.
func (e *Event) HasAck() bool { return e.hasAck }

// Ack answers the event with args (encoded as Socket.Emit encodes them).
// An event is acked at most once; without a requested ack Ack returns
// ErrNoAck.
func (e *Event) Ack(args ...any) error {
	elems, atts, err := socketio.MarshalArgs(args, 0)
	if err != nil {
		return err
	}
	return e.AckRaw(socketio.AppendArray(nil, elems...), atts)
}

// AckRaw answers the event with data, a JSON array sent as is, and the
// attachments its placeholders refer to. data is copied before AckRaw
// returns (the caller may reuse it); the attachments are sent from their
// own memory and must not be modified afterwards.
func (e *Event) AckRaw(data []byte, attachments [][]byte) error {
	return e.ack(data, nil, attachments)
}

// AckElements is AckRaw with the array of the raw JSON elements elems,
// built straight into the packet: the way to answer with received
// arguments, as an echo does with AckElements(ev.Args(), ev.Attachments),
// without building the array first. The elements are copied before it
// returns.
func (e *Event) AckElements(elems [][]byte, attachments [][]byte) error {
	if elems == nil {
		elems = [][]byte{}
	}
	return e.ack(nil, elems, attachments)
}

func (e *Event) ack(data []byte, elems, attachments [][]byte) error {
	if !e.hasAck {
		return ErrNoAck
	}
	if !e.acked.CompareAndSwap(false, true) {
		return ErrAcked
	}
	p := socketio.Packet{Type: socketio.Ack, ID: e.id, HasID: true, Data: data, Attachments: attachments}
	if len(attachments) > 0 {
		p.Type = socketio.BinaryAck
	}
	return e.socket.sendElems(&p, elems, false)
}

package proxy

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/session"
)

type eventRequest struct {
	Namespace   string            `json:"namespace"`
	SID         string            `json:"sid"`
	User        string            `json:"user"`
	Data        json.RawMessage   `json:"data"`
	Rooms       []string          `json:"rooms"`
	Event       string            `json:"event"`
	Args        []json.RawMessage `json:"args"`
	Attachments [][]byte          `json:"attachments,omitempty"` // base64
	Claims      json.RawMessage   `json:"claims,omitempty"`
}

// Emit is one broadcast of a backend's answer (and of the server API):
// the event goes to the members of Rooms (every socket of the namespace
// when empty) but those of Except. Args are JSON; binary arguments are
// placeholders {"_placeholder": true, "num": i} for Attachments[i].
type Emit struct {
	Rooms       []string          `json:"rooms"`
	Except      []string          `json:"except"`
	Event       string            `json:"event"`
	Args        []json.RawMessage `json:"args"`
	Attachments [][]byte          `json:"attachments"`
	Volatile    bool              `json:"volatile"`
}

// Packet checks the emit and returns its event data and attachments.
func (e *Emit) Packet(l socketio.Limits) ([]byte, [][]byte, error) {
	if e.Event == "" {
		return nil, nil, errors.New("an event name is required")
	}
	data := socketio.AppendEvent(nil, e.Event, rawElems(e.Args)...)
	if err := socketio.CheckPayload(socketio.Event, data, len(e.Attachments), l); err != nil {
		return nil, nil, err
	}
	return data, e.Attachments, nil
}

// Operator returns the broadcast operator of the emit in n.
func (e *Emit) Operator(n *session.Namespace) session.BroadcastOperator {
	op := n.To(e.Rooms...).Except(e.Except...)
	if e.Volatile {
		op = op.Volatile()
	}
	return op
}

type eventAnswer struct {
	Ack         *[]json.RawMessage `json:"ack"`
	Attachments [][]byte           `json:"attachments"` // of the ack
	Emit        []Emit             `json:"emit"`
	Join        []string           `json:"join"`
	Leave       []string           `json:"leave"`
	Disconnect  bool               `json:"disconnect"`
}

func rawElems(args []json.RawMessage) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

// checked is an answer ready to apply.
type checked struct {
	ack      []byte // nil: none
	ackAtts  [][]byte
	emits    [][]byte
	emitAtts [][][]byte
}

func (a *eventAnswer) check() (*checked, error) {
	var c checked
	if a.Ack != nil {
		c.ack = socketio.AppendArray(nil, rawElems(*a.Ack)...)
		if err := socketio.CheckPayload(socketio.Ack, c.ack, len(a.Attachments), socketio.Limits{}); err != nil {
			return nil, fmt.Errorf("ack: %w", err)
		}
		c.ackAtts = a.Attachments
	}
	for i := range a.Emit {
		data, atts, err := a.Emit[i].Packet(socketio.Limits{})
		if err != nil {
			return nil, fmt.Errorf("emit %d: %w", i, err)
		}
		c.emits, c.emitAtts = append(c.emits, data), append(c.emitAtts, atts)
	}
	for _, r := range append(a.Join, a.Leave...) {
		if r == "" {
			return nil, errors.New("empty room name")
		}
	}
	return &c, nil
}

// Event is a session.EventHandler that posts the event to the event URL
// and applies the answer, in this order: "join", "leave", "emit", "ack"
// (the client's ack callback gets its elements as arguments; an ack asked
// for and not answered gets none), then "disconnect". A failure (or an
// answer that does not check) acks {"error": "backend unavailable"} when
// the client asked for an ack.
func (p *Proxy) Event(s *session.Socket, ev *session.Event) {
	if p.cfg.EventURL == "" {
		if ev.HasAck() {
			ev.Ack(map[string]string{"error": ev.Name + ": unknown event"})
		}
		return
	}
	req := eventRequest{
		Namespace:   s.Namespace().Name(),
		SID:         s.ID(),
		User:        s.User(),
		Data:        socketData(s),
		Rooms:       s.Rooms(),
		Event:       ev.Name,
		Args:        make([]json.RawMessage, len(ev.Args())),
		Attachments: ev.Attachments,
		Claims:      p.claims(s),
	}
	for i, a := range ev.Args() {
		req.Args[i] = a
	}
	var ans eventAnswer
	err := p.call(&p.stats.event, p.cfg.EventURL, req, &ans)
	var c *checked
	if err == nil {
		if c, err = ans.check(); err != nil {
			p.stats.event.failures.Add(1)
			err = fmt.Errorf("proxy: bad answer: %w", err)
		}
	}
	if err != nil {
		p.warn("proxy: event backend failed", "nsp", req.Namespace, "event", ev.Name, "err", err)
		if ev.HasAck() {
			ev.Ack(map[string]string{"error": ErrorMessage})
		}
		return
	}
	if len(ans.Join) > 0 {
		s.Join(ans.Join...)
	}
	for _, r := range ans.Leave {
		if r != s.ID() {
			s.Leave(r)
		}
	}
	for i, data := range c.emits {
		if err := ans.Emit[i].Operator(s.Namespace()).EmitRaw(data, c.emitAtts[i]); err != nil {
			p.warn("proxy: emit of a backend answer failed", "nsp", req.Namespace, "err", err)
		}
	}
	if ev.HasAck() {
		ack := c.ack
		if ack == nil {
			ack = []byte("[]")
		}
		ev.AckRaw(ack, c.ackAtts)
	}
	if ans.Disconnect {
		s.Disconnect(false)
	}
}

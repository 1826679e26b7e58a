package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/proxy"
	"github.com/sockgate/sockgate/pkg/session"
)

type ok struct {
	OK bool `json:"ok"`
}

type emitRequest struct {
	Selector
	Event       string            `json:"event"`
	Args        []json.RawMessage `json:"args"`
	Attachments [][]byte          `json:"attachments"`
	Volatile    bool              `json:"volatile"`
	TimeoutMS   *int64            `json:"timeout_ms"`
}

type emitAcks struct {
	Acks     []json.RawMessage `json:"acks"`
	TimedOut bool              `json:"timed_out"`
}

// emit: POST /api/v1/emit.
func (h *Handler) emit(r *http.Request) (any, error) {
	var req emitRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	e := proxy.Emit{Event: req.Event, Args: req.Args, Attachments: req.Attachments, Volatile: req.Volatile}
	data, atts, err := e.Packet(socketio.Limits{})
	if err != nil {
		return nil, badRequest("%v", err)
	}
	op, err := h.operator(req.Selector)
	if err != nil {
		return nil, err
	}
	if req.Volatile {
		op = op.Volatile()
	}
	if req.TimeoutMS == nil {
		if err := op.EmitRaw(data, atts); err != nil {
			return nil, err
		}
		return ok{true}, nil
	}
	d := time.Duration(*req.TimeoutMS) * time.Millisecond
	if *req.TimeoutMS <= 0 || d > h.cfg.MaxAckTimeout {
		return nil, badRequest("timeout_ms must be between 1 and %d", h.cfg.MaxAckTimeout.Milliseconds())
	}
	replies, err := op.Timeout(d).EmitRawWithAck(r.Context(), data, atts)
	missing, err := missingNodes(err)
	if err != nil {
		return nil, err
	}
	out := emitAcks{Acks: make([]json.RawMessage, 0, len(replies)), TimedOut: missing > 0}
	for _, a := range replies {
		// socket.io's responses: each client's first ack argument.
		first := json.RawMessage("null")
		if raw := a.Raw(); len(raw) > 0 {
			first = raw[0]
		}
		out.Acks = append(out.Acks, first)
	}
	return out, nil
}

type socketJSON struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	User      string          `json:"user"`
	Handshake handshakeJSON   `json:"handshake"`
}

type handshakeJSON struct {
	Address string            `json:"address"`
	Query   map[string]string `json:"query"`
	Time    string            `json:"time"`
}

type socketsAnswer struct {
	Sockets      []socketJSON `json:"sockets"`
	MissingNodes int          `json:"missing_nodes"`
}

// sockets: GET /api/v1/sockets?namespace=&room=.
func (h *Handler) sockets(r *http.Request) (any, error) {
	q := r.URL.Query()
	infos, missing, err := h.fetch(r, Selector{Namespace: q.Get("namespace"), Rooms: q["room"]})
	if err != nil {
		return nil, err
	}
	out := socketsAnswer{Sockets: make([]socketJSON, 0, len(infos)), MissingNodes: missing}
	for _, s := range infos {
		rooms := s.Rooms
		if rooms == nil {
			rooms = []string{}
		}
		data := s.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		out.Sockets = append(out.Sockets, socketJSON{
			ID: s.ID, Rooms: rooms, Data: data, User: s.User,
			Handshake: handshakeJSON{Address: s.Handshake.Address, Query: s.Handshake.Query, Time: s.Handshake.Time},
		})
	}
	slices.SortFunc(out.Sockets, func(a, b socketJSON) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// fetch describes the selected sockets of every node, and how many nodes
// did not answer in time.
func (h *Handler) fetch(r *http.Request, sel Selector) ([]adapter.SocketInfo, int, error) {
	op, err := h.operator(sel)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	infos, err := op.FetchSockets(ctx)
	missing, err := missingNodes(err)
	return infos, missing, err
}

type joinRequest struct {
	Selector
	Join []string `json:"join"`
}

type leaveRequest struct {
	Selector
	Leave []string `json:"leave"`
}

type disconnectRequest struct {
	Selector
	Close bool `json:"close"`
}

// join: POST /api/v1/join.
func (h *Handler) join(r *http.Request) (any, error) {
	var req joinRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return h.moveSockets(r, req.Selector, "join", req.Join, session.BroadcastOperator.SocketsJoin)
}

// leave: POST /api/v1/leave.
func (h *Handler) leave(r *http.Request) (any, error) {
	var req leaveRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return h.moveSockets(r, req.Selector, "leave", req.Leave, session.BroadcastOperator.SocketsLeave)
}

// moveSockets makes the selected sockets join or leave rooms.
func (h *Handler) moveSockets(r *http.Request, sel Selector, field string, rooms []string,
	move func(session.BroadcastOperator, context.Context, ...string) error) (any, error) {
	if len(rooms) == 0 {
		return nil, badRequest("%s: at least one room is required", field)
	}
	if err := checkRooms(field, rooms); err != nil {
		return nil, err
	}
	op, err := h.operator(sel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	if err := move(op, ctx, rooms...); err != nil {
		return nil, err
	}
	return ok{true}, nil
}

// disconnect: POST /api/v1/disconnect.
func (h *Handler) disconnect(r *http.Request) (any, error) {
	var req disconnectRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	op, err := h.operator(req.Selector)
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	if err := op.DisconnectSockets(ctx, req.Close); err != nil {
		return nil, err
	}
	return ok{true}, nil
}

type roomJSON struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
}

type roomsAnswer struct {
	Rooms        []roomJSON `json:"rooms"`
	MissingNodes int        `json:"missing_nodes"`
}

// rooms: GET /api/v1/rooms?namespace= — the rooms that have members, with
// their member counts on every node (socket ID rooms left out).
func (h *Handler) rooms(r *http.Request) (any, error) {
	infos, missing, err := h.fetch(r, Selector{Namespace: r.URL.Query().Get("namespace")})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, s := range infos {
		for _, room := range s.Rooms {
			if room != s.ID {
				counts[room]++
			}
		}
	}
	out := roomsAnswer{Rooms: make([]roomJSON, 0, len(counts)), MissingNodes: missing}
	for name, n := range counts {
		out.Rooms = append(out.Rooms, roomJSON{name, n})
	}
	slices.SortFunc(out.Rooms, func(a, b roomJSON) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

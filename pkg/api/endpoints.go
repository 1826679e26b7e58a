package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/proxy"
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
	sel := Selector{Namespace: q.Get("namespace"), Rooms: q["room"]}
	op, err := h.operator(sel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	infos, err := op.FetchSockets(ctx)
	missing, err := missingNodes(err)
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
	slices.SortFunc(out.Sockets, func(a, b socketJSON) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
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
	if len(req.Join) == 0 {
		return nil, badRequest("join: at least one room is required")
	}
	if err := checkRooms("join", req.Join); err != nil {
		return nil, err
	}
	op, err := h.operator(req.Selector)
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	if err := op.SocketsJoin(ctx, req.Join...); err != nil {
		return nil, err
	}
	return ok{true}, nil
}

// leave: POST /api/v1/leave.
func (h *Handler) leave(r *http.Request) (any, error) {
	var req leaveRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.Leave) == 0 {
		return nil, badRequest("leave: at least one room is required")
	}
	if err := checkRooms("leave", req.Leave); err != nil {
		return nil, err
	}
	op, err := h.operator(req.Selector)
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	if err := op.SocketsLeave(ctx, req.Leave...); err != nil {
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
	op, err := h.operator(Selector{Namespace: r.URL.Query().Get("namespace")})
	if err != nil {
		return nil, err
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	infos, err := op.FetchSockets(ctx)
	missing, err := missingNodes(err)
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
	slices.SortFunc(out.Rooms, func(a, b roomJSON) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

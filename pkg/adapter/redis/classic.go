package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Classic request types (wire format §1).
const (
	classicSockets          = 0
	classicAllRooms         = 1
	classicRemoteJoin       = 2
	classicRemoteLeave      = 3
	classicRemoteDisconnect = 4
	classicRemoteFetch      = 5
	classicServerSideEmit   = 6
	classicBroadcast        = 7
	classicClientCount      = 8
	classicBroadcastAck     = 9
)

// classicRequest is every JSON request and response of the classic plane;
// the field order is Node's.
type classicRequest struct {
	UID       string          `json:"uid,omitempty"`
	RequestID string          `json:"requestId,omitempty"`
	Type      int             `json:"type"`
	Opts      *wireOpts       `json:"opts,omitempty"`
	Rooms     *roomList       `json:"rooms,omitempty"`
	Close     *bool           `json:"close,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Packet    json.RawMessage `json:"packet,omitempty"`
	SID       string          `json:"sid,omitempty"`
	Room      json.RawMessage `json:"room,omitempty"`
}

type classicResponse struct {
	Type        int             `json:"type"`
	RequestID   string          `json:"requestId"`
	Rooms       roomList        `json:"rooms"`
	Sockets     json.RawMessage `json:"sockets"`
	Data        json.RawMessage `json:"data"`
	ClientCount int             `json:"clientCount"`
	Packet      json.RawMessage `json:"packet"`
}

// appendClassicPacket appends {type:2, data, nsp}: type 2 even with binary
// (wire format §1), data transcoded from raw JSON with its attachments.
func (n *namespace) appendClassicPacket(b []byte, pkt *socketio.Packet) ([]byte, error) {
	b = msgpack.AppendMapHeader(b, 3)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, uint64(socketio.Event))
	b = msgpack.AppendString(b, "data")
	b, err := jsonToMsgpack(b, pkt.Data, pkt.Attachments)
	if err != nil {
		return b, err
	}
	b = msgpack.AppendString(b, "nsp")
	return msgpack.AppendString(b, n.name), nil
}

// encodeClassicBroadcast encodes [uid, packet, opts] and picks the channel:
// the room channel only for exactly one room.
func (n *namespace) encodeClassicBroadcast(pkt *socketio.Packet, opts adapter.Options) (string, []byte, error) {
	b := make([]byte, 0, 64+len(pkt.Data)+attachmentsLen(pkt.Attachments))
	b = msgpack.AppendArrayHeader(b, 3)
	b = msgpack.AppendString(b, n.a.uid)
	b, err := n.appendClassicPacket(b, pkt)
	if err != nil {
		return "", nil, err
	}
	b = appendMsgpackOpts(b, opts)
	ch := n.bcChannel
	if len(opts.Rooms) == 1 {
		ch += opts.Rooms[0] + "#"
	}
	return ch, b, nil
}

func attachmentsLen(atts [][]byte) int {
	n := 0
	for _, a := range atts {
		n += len(a) + 5
	}
	return n
}

// encodeClassicAckRequest encodes the msgpack type 7 request.
func (n *namespace) encodeClassicAckRequest(pkt *socketio.Packet, opts adapter.Options, id string) ([]byte, error) {
	b := make([]byte, 0, 96+len(pkt.Data)+attachmentsLen(pkt.Attachments))
	b = msgpack.AppendMapHeader(b, 5)
	b = msgpack.AppendString(b, "uid")
	b = msgpack.AppendString(b, n.a.uid)
	b = msgpack.AppendString(b, "requestId")
	b = msgpack.AppendString(b, id)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, classicBroadcast)
	b = msgpack.AppendString(b, "packet")
	b, err := n.appendClassicPacket(b, pkt)
	if err != nil {
		return nil, err
	}
	b = msgpack.AppendString(b, "opts")
	return appendMsgpackOpts(b, opts), nil
}

// remotePacket is a broadcast packet decoded from the wire.
type remotePacket struct {
	pkt  *socketio.Packet
	opts adapter.Options
}

// onClassicBroadcast handles <key>#<nsp>#[room#]: skip rooms without local
// members before decoding, drop own messages and other namespaces.
func (n *namespace) onClassicBroadcast(ch, rest string, payload []byte) {
	if rest != "" {
		room := rest[:len(rest)-1]
		if room != "" && !n.HasRoom(room) {
			return
		}
	}
	rp, own, reason, err := n.decodeClassicBroadcast(payload)
	if err != nil {
		n.a.bad(ch, reason, err)
		return
	}
	if own || rp == nil {
		return
	}
	n.local.Deliver(rp.pkt, rp.opts.Flags, n.sockets(rp.opts))
}

// decodeClassicBroadcast reads [uid, packet, opts]. It returns own for our
// own echo and a nil packet for another namespace.
func (n *namespace) decodeClassicBroadcast(payload []byte) (rp *remotePacket, own bool, reason badReason, err error) {
	r := msgpack.NewReader(payload)
	t, err := r.Next()
	if err != nil {
		return nil, false, reasonMsgpack, err
	}
	if t.Type != msgpack.TypeArray || t.Len < 2 {
		return nil, false, reasonPacket, errors.New("broadcast is not [uid, packet, opts]")
	}
	elems := t.Len
	t, err = r.Next()
	if err != nil {
		return nil, false, reasonMsgpack, err
	}
	if t.Type == msgpack.TypeStr && string(t.Bytes) == n.a.uid {
		return nil, true, 0, nil
	}
	if t.Type == msgpack.TypeArray || t.Type == msgpack.TypeMap {
		return nil, false, reasonPacket, errors.New("bad uid")
	}
	pkt, nsp, reason, err := n.readPacket(r)
	if err != nil {
		return nil, false, reason, err
	}
	if nsp != n.name {
		return nil, false, 0, nil
	}
	rp = &remotePacket{pkt: pkt}
	if elems >= 3 {
		if rp.opts, err = readOpts(r); err != nil {
			return nil, false, reasonPacket, err
		}
	}
	return rp, false, 0, nil
}

// readPacket reads {type, data, nsp} into an EVENT/BINARY_EVENT packet.
// The namespace is checked before data is transcoded.
func (n *namespace) readPacket(r *msgpack.Reader) (*socketio.Packet, string, badReason, error) {
	t, err := r.Next()
	if err != nil {
		return nil, "", reasonMsgpack, err
	}
	if t.Type != msgpack.TypeMap {
		return nil, "", reasonPacket, errors.New("packet is not a map")
	}
	nsp := "/"
	var data []byte
	typ := int64(-1)
	for i := 0; i < t.Len; i++ {
		k, err := r.Next()
		if err != nil {
			return nil, "", reasonMsgpack, err
		}
		if k.Type != msgpack.TypeStr {
			if err := r.Skip(); err != nil {
				return nil, "", reasonMsgpack, err
			}
			continue
		}
		switch string(k.Bytes) {
		case "type":
			v, err := r.Next()
			if err != nil {
				return nil, "", reasonMsgpack, err
			}
			if v.Type == msgpack.TypeUint {
				typ = int64(v.Uint)
			}
		case "nsp":
			v, err := r.Next()
			if err != nil {
				return nil, "", reasonMsgpack, err
			}
			if v.Type == msgpack.TypeStr {
				nsp = string(v.Bytes)
			}
		case "data":
			if data, err = r.Raw(); err != nil {
				return nil, "", reasonMsgpack, err
			}
		default:
			if err := r.Skip(); err != nil {
				return nil, "", reasonMsgpack, err
			}
		}
	}
	if nsp != n.name {
		return nil, nsp, 0, nil
	}
	if typ != int64(socketio.Event) && typ != int64(socketio.BinaryEvent) {
		return nil, nsp, reasonType, fmt.Errorf("packet type %d", typ)
	}
	pkt, err := n.eventFromMsgpack(data)
	if err != nil {
		return nil, nsp, reasonPacket, err
	}
	return pkt, nsp, 0, nil
}

// eventFromMsgpack transcodes event data (a msgpack array) to a packet.
func (n *namespace) eventFromMsgpack(data []byte) (*socketio.Packet, error) {
	if len(data) == 0 || !isMsgpackArray(data[0]) {
		return nil, errNoArray
	}
	var atts [][]byte
	js, err := msgpackToJSON(make([]byte, 0, len(data)+len(data)/2), msgpack.NewReader(data), &atts)
	if err != nil {
		return nil, err
	}
	return n.eventPacket(js, atts), nil
}

func isMsgpackArray(c byte) bool { return c&0xf0 == 0x90 || c == 0xdc || c == 0xdd }

func (n *namespace) eventPacket(js []byte, atts [][]byte) *socketio.Packet {
	pkt := &socketio.Packet{Type: socketio.Event, Namespace: n.name, Data: js}
	if len(atts) > 0 {
		pkt.Type = socketio.BinaryEvent
		pkt.Attachments = copyAttachments(atts)
	}
	return pkt
}

// readOpts reads {rooms, except, flags}.
func readOpts(r *msgpack.Reader) (adapter.Options, error) {
	var o adapter.Options
	t, err := r.Next()
	if err != nil {
		return o, err
	}
	if t.Type == msgpack.TypeNil {
		return o, nil
	}
	if t.Type != msgpack.TypeMap {
		return o, errors.New("opts is not a map")
	}
	for i := 0; i < t.Len; i++ {
		k, err := r.Next()
		if err != nil {
			return o, err
		}
		switch string(k.Bytes) {
		case "rooms":
			o.Rooms, err = readRooms(r)
		case "except":
			o.Except, err = readRooms(r)
		case "flags":
			err = readFlags(r, &o.Flags)
		default:
			err = r.Skip()
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func readRooms(r *msgpack.Reader) ([]string, error) {
	t, err := r.Next()
	if err != nil {
		return nil, err
	}
	if t.Type == msgpack.TypeNil {
		return nil, nil
	}
	if t.Type != msgpack.TypeArray {
		return nil, errors.New("rooms is not an array")
	}
	rooms := make([]string, 0, t.Len)
	for i := 0; i < t.Len; i++ {
		v, err := r.Next()
		if err != nil {
			return nil, err
		}
		switch v.Type {
		case msgpack.TypeStr:
			rooms = append(rooms, string(v.Bytes))
		case msgpack.TypeUint:
			rooms = append(rooms, strconv.FormatUint(v.Uint, 10))
		case msgpack.TypeInt:
			rooms = append(rooms, strconv.FormatInt(v.Int, 10))
		case msgpack.TypeFloat:
			rooms = append(rooms, string(appendJSFloat(nil, v.Float)))
		default:
			return nil, fmt.Errorf("room of type %s", v.Type)
		}
	}
	return rooms, nil
}

func readFlags(r *msgpack.Reader, f *adapter.Flags) error {
	t, err := r.Next()
	if err != nil {
		return err
	}
	if t.Type == msgpack.TypeNil {
		return nil
	}
	if t.Type != msgpack.TypeMap {
		return errors.New("flags is not a map")
	}
	for i := 0; i < t.Len; i++ {
		k, err := r.Next()
		if err != nil {
			return err
		}
		if k.Type == msgpack.TypeStr && string(k.Bytes) == "volatile" {
			v, err := r.Next()
			if err != nil {
				return err
			}
			f.Volatile = v.Type == msgpack.TypeBool && v.Bool
			continue
		}
		if err := r.Skip(); err != nil {
			return err
		}
	}
	return nil
}

// decodeDoc reads a request or response: JSON if it starts with '{',
// msgpack otherwise (wire format §1).
func decodeDoc(payload []byte, v any) (atts [][]byte, reason badReason, err error) {
	js := payload
	if len(payload) == 0 || payload[0] != '{' {
		if js, atts, err = msgpackToJSONDoc(payload); err != nil {
			return nil, reasonMsgpack, err
		}
	}
	if err := json.Unmarshal(js, v); err != nil {
		return nil, reasonJSON, err
	}
	return atts, 0, nil
}

// onClassicRequest serves a request from another node (or the emitter).
// Our own requests are skipped: this node applied or answered them itself.
func (n *namespace) onClassicRequest(ch string, payload []byte) {
	var req classicRequest
	atts, reason, err := decodeDoc(payload, &req)
	if err != nil {
		n.a.bad(ch, reason, err)
		return
	}
	if req.UID == n.a.uid {
		return
	}
	n.a.stats.requestsServed.Add(1)
	switch req.Type {
	case classicSockets:
		var ids []string
		for s := range n.sockets(adapter.Options{Rooms: derefRooms(req.Rooms)}) {
			ids = append(ids, s.ID())
		}
		n.respond(req, map[string]any{"requestId": req.RequestID, "sockets": roomList(ids)})
	case classicAllRooms:
		n.respond(req, map[string]any{"requestId": req.RequestID, "rooms": roomList(n.Names())})
	case classicRemoteJoin, classicRemoteLeave, classicRemoteDisconnect:
		n.serveClassicOp(req)
	case classicRemoteFetch:
		infos := encodeSockets(n.localInfos(req.Opts.options()))
		n.respond(req, struct {
			RequestID string               `json:"requestId"`
			Sockets   []adapter.SocketInfo `json:"sockets"`
		}{req.RequestID, infos})
	case classicServerSideEmit:
		if len(req.Data) == 0 || req.Data[0] != '[' {
			n.a.bad(ch, reasonPacket, errNoArray)
			return
		}
		var ack func(json.RawMessage)
		if req.RequestID != "" {
			id := req.RequestID
			ack = onceAck(func(arg json.RawMessage) {
				// Always on the shared channel (wire format §1).
				b, err := marshalJSON(classicRequest{RequestID: id, Type: classicServerSideEmit, Data: arg})
				if err == nil {
					n.publish(n.respChannel, b)
				}
			})
		}
		n.local.ServerSideEmit(req.Data, ack)
	case classicBroadcast:
		n.serveClassicBroadcast(ch, req, atts)
	default:
		n.a.bad(ch, reasonType, fmt.Errorf("request type %d", req.Type))
	}
}

func derefRooms(l *roomList) []string {
	if l == nil {
		return nil
	}
	return *l
}

func (n *namespace) serveClassicOp(req classicRequest) {
	if req.Opts != nil {
		opts := req.Opts.options()
		opts.Flags = adapter.Flags{}
		switch req.Type {
		case classicRemoteJoin:
			n.localJoin(opts, derefRooms(req.Rooms))
		case classicRemoteLeave:
			n.localLeave(opts, derefRooms(req.Rooms))
		default:
			n.localDisconnect(opts, req.Close != nil && *req.Close)
		}
		return
	}
	// Legacy sid form (≤ 7.x): the owner acts and replies {requestId}.
	if req.SID == "" {
		return
	}
	var sock adapter.Socket
	for s := range n.sockets(adapter.Options{Rooms: []string{req.SID}}) {
		if s.ID() == req.SID {
			sock = s
		}
	}
	if sock == nil {
		return
	}
	room := roomName(req.Room)
	switch req.Type {
	case classicRemoteJoin:
		n.AddAllIfPresent(sock, room) // not if it left since the lookup
	case classicRemoteLeave:
		n.Del(sock, room)
	default:
		n.local.Disconnect(sock, req.Close != nil && *req.Close)
	}
	n.respond(req, map[string]any{"requestId": req.RequestID})
}

// respond publishes a JSON reply to the shared or the requester's channel.
func (n *namespace) respond(req classicRequest, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		n.a.log.Error("redis adapter: encoding reply", "err", err)
		return
	}
	n.publish(n.responseChannelFor(req.UID), b)
}

func (n *namespace) responseChannelFor(uid string) string {
	if n.a.cfg.PublishOnSpecificResponseChannel && uid != "" {
		return n.respChannel + uid + "#"
	}
	return n.respChannel
}

// serveClassicBroadcast serves type 7: deliver with ack ids, publish the
// client count (type 8, even 0), then one type 9 per client ack.
func (n *namespace) serveClassicBroadcast(ch string, req classicRequest, atts [][]byte) {
	var pk struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
		NSP  *string         `json:"nsp"`
	}
	if err := json.Unmarshal(req.Packet, &pk); err != nil || len(pk.Data) == 0 || pk.Data[0] != '[' {
		n.a.bad(ch, reasonPacket, errors.New("bad broadcast packet"))
		return
	}
	if pk.NSP != nil && *pk.NSP != n.name {
		return
	}
	pkt := n.eventPacket(pk.Data, atts)
	opts := req.Opts.options()
	respCh := n.responseChannelFor(req.UID)
	id := req.RequestID
	n.ackBroadcast(pkt, opts, func(count int) {
		n.publish(respCh, clientCountJSON(id, count))
	}, func(ack *socketio.Packet) {
		if b, err := encodeClassicAck(id, ack); err == nil {
			n.publish(respCh, b)
		}
	})
}

// clientCountJSON writes {"type":8,"requestId":id,"clientCount":count}.
func clientCountJSON(id string, count int) []byte {
	b := socketio.AppendString([]byte(`{"type":8,"requestId":`), id)
	b = append(b, `,"clientCount":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	return append(b, '}')
}

// encodeClassicAck encodes {type:9, requestId, packet: <first ack arg>}.
func encodeClassicAck(id string, ack *socketio.Packet) ([]byte, error) {
	b := msgpack.AppendMapHeader(make([]byte, 0, 32+len(ack.Data)), 3)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, classicBroadcastAck)
	b = msgpack.AppendString(b, "requestId")
	b = msgpack.AppendString(b, id)
	b = msgpack.AppendString(b, "packet")
	return appendFirstArg(b, ack)
}

// appendFirstArg appends the first argument of an ACK packet as msgpack
// (nil when there is none).
func appendFirstArg(b []byte, ack *socketio.Packet) ([]byte, error) {
	all, err := jsonToMsgpack(nil, ack.Data, ack.Attachments)
	if err != nil {
		return nil, err
	}
	r := msgpack.NewReader(all)
	t, err := r.Next()
	if err != nil || t.Type != msgpack.TypeArray || t.Len == 0 {
		return msgpack.AppendNil(b), nil
	}
	first, err := r.Raw()
	if err != nil {
		return nil, err
	}
	return append(b, first...), nil
}

// ackBroadcast delivers pkt with ack ids and reports the count before any
// ack (acks that arrive first are held back).
func (n *namespace) ackBroadcast(pkt *socketio.Packet, opts adapter.Options, count func(int), ack func(*socketio.Packet)) {
	ctx, cancel := n.a.ackContext(opts.Flags.Timeout)
	var (
		held    []*socketio.Packet
		counted bool
	)
	var mu sync.Mutex
	c := n.local.DeliverWithAck(ctx, pkt, opts.Flags, n.sockets(opts), func(p *socketio.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if !counted {
			held = append(held, p)
			return
		}
		ack(p)
	})
	mu.Lock()
	count(c)
	counted = true
	for _, p := range held {
		ack(p)
	}
	held = nil
	mu.Unlock()
	if c == 0 {
		cancel()
		return
	}
	context.AfterFunc(ctx, cancel) // release the context when it expires
}

// onClassicResponse matches a reply to a pending request by requestId.
func (n *namespace) onClassicResponse(ch string, payload []byte) {
	var resp classicResponse
	atts, reason, err := decodeDoc(payload, &resp)
	if err != nil {
		n.a.bad(ch, reason, err)
		return
	}
	if resp.RequestID == "" {
		return
	}
	if w := n.ackWaiter(resp.RequestID); w != nil {
		switch resp.Type {
		case classicClientCount:
			w.clientCount(resp.ClientCount)
		case classicBroadcastAck:
			w.ack(n.ackPacket(resp.Packet, atts))
		}
		return
	}
	n.mu.Lock()
	p := n.requests[resp.RequestID]
	n.mu.Unlock()
	if p == nil {
		return
	}
	switch p.kind {
	case reqFetch:
		if resp.Sockets == nil {
			return
		}
		socks, err := decodeSockets(resp.Sockets)
		if err != nil {
			n.a.bad(ch, reasonJSON, err)
			return
		}
		n.reply(resp.RequestID, reqFetch, func(p *pending) { p.sockets = append(p.sockets, socks...) })
	case reqAllRooms:
		if resp.Rooms == nil {
			return
		}
		n.reply(resp.RequestID, reqAllRooms, func(p *pending) { p.rooms = append(p.rooms, resp.Rooms...) })
	case reqServerSideEmit:
		data := append(json.RawMessage(nil), resp.Data...)
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		n.reply(resp.RequestID, reqServerSideEmit, func(p *pending) { p.replies = append(p.replies, data) })
	}
}

// --- Mode-dependent encoders of the cluster operations ---

type clusterOp uint8

const (
	opSocketsJoin clusterOp = iota + 1
	opSocketsLeave
	opDisconnect
)

func (n *namespace) publishOp(op clusterOp, opts adapter.Options, rooms []string, close bool) {
	var (
		b   []byte
		err error
		ch  = n.reqChannel
	)
	if n.streams {
		n.publishStreamOp(op, opts, rooms, close)
		return
	}
	if n.sharded {
		ch, b, err = n.encodeShardedOp(op, opts, rooms, close)
	} else {
		req := classicRequest{UID: n.a.uid, Opts: toWireOpts(opts)}
		switch op {
		case opSocketsJoin:
			req.Type, req.Rooms = classicRemoteJoin, (*roomList)(&rooms)
		case opSocketsLeave:
			req.Type, req.Rooms = classicRemoteLeave, (*roomList)(&rooms)
		default:
			req.Type, req.Close = classicRemoteDisconnect, &close
		}
		b, err = marshalJSON(req)
	}
	if err != nil {
		n.a.log.Error("redis adapter: encoding request", "err", err)
		return
	}
	n.a.stats.requestsSent.Add(1)
	n.publish(ch, b)
}

func (n *namespace) encodeFetchRequest(id string, opts adapter.Options) (string, []byte, error) {
	if n.sharded || n.streams {
		return n.encodeShardedFetch(id, opts)
	}
	b, err := marshalJSON(classicRequest{UID: n.a.uid, RequestID: id, Type: classicRemoteFetch, Opts: toWireOpts(opts)})
	return n.reqChannel, b, err
}

func (n *namespace) encodeServerSideEmit(id string, data json.RawMessage) (string, []byte, error) {
	if len(data) == 0 || data[0] != '[' {
		return "", nil, fmt.Errorf("redis: serverSideEmit: %w", errNoArray)
	}
	if n.sharded || n.streams {
		return n.encodeShardedServerSideEmit(id, data)
	}
	b, err := marshalJSON(classicRequest{UID: n.a.uid, RequestID: id, Type: classicServerSideEmit, Data: data})
	return n.reqChannel, b, err
}

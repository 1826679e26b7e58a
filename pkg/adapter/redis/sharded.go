package redis

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// ClusterAdapter message types (wire format §2).
const (
	clusterInitialHeartbeat  = 1
	clusterHeartbeat         = 2
	clusterBroadcast         = 3
	clusterSocketsJoin       = 4
	clusterSocketsLeave      = 5
	clusterDisconnectSockets = 6
	clusterFetchSockets      = 7
	clusterFetchResponse     = 8
	clusterServerSideEmit    = 9
	clusterServerSideEmitRes = 10
	clusterClientCount       = 11
	clusterBroadcastAck      = 12
	clusterAdapterClose      = 13
)

type clusterMessage struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	UID  string          `json:"uid"`
	NSP  string          `json:"nsp"`
}

type clusterData struct {
	Packet      json.RawMessage `json:"packet,omitempty"`
	RequestID   string          `json:"requestId,omitempty"`
	Opts        *wireOpts       `json:"opts,omitempty"`
	Rooms       *roomList       `json:"rooms,omitempty"`
	Close       *bool           `json:"close,omitempty"`
	Sockets     json.RawMessage `json:"sockets,omitempty"`
	ClientCount *int            `json:"clientCount,omitempty"`
}

// shardedChannel picks the channel of a broadcast: a room's own channel
// for a plain broadcast to exactly one room (dynamic modes), else main.
func (n *namespace) shardedChannel(opts adapter.Options, requestID string) string {
	if requestID == "" && len(opts.Rooms) == 1 {
		room := opts.Rooms[0]
		switch n.a.cfg.SubscriptionMode {
		case DynamicPrivate:
			return n.bcChannel + room + "#"
		case Dynamic:
			if len(room) != socketIDLength {
				return n.bcChannel + room + "#"
			}
		}
	}
	return n.bcChannel
}

// encodeShardedBroadcast writes type 3: JSON with the raw event data
// embedded, or msgpack of the whole message when there are attachments.
// The streams format always publishes msgpack (Node's streams adapter
// decodes every pub/sub message as msgpack).
func (n *namespace) encodeShardedBroadcast(pkt *socketio.Packet, opts adapter.Options, requestID string) (string, []byte, error) {
	ch := n.bcChannel
	if n.sharded {
		ch = n.shardedChannel(opts, requestID)
	}
	if len(pkt.Attachments) == 0 && !n.streams {
		b := make([]byte, 0, 128+len(pkt.Data))
		b = append(b, `{"type":3,"data":{"packet":{"type":2,"data":`...)
		b = append(b, pkt.Data...)
		b = append(b, `},"opts":`...)
		b = appendJSONOpts(b, opts)
		if requestID != "" {
			b = append(b, `,"requestId":`...)
			b = socketio.AppendString(b, requestID)
		}
		b = append(b, `},"uid":`...)
		b = socketio.AppendString(b, n.a.uid)
		b = append(b, `,"nsp":`...)
		b = socketio.AppendString(b, n.name)
		return ch, append(b, '}'), nil
	}
	b := make([]byte, 0, 128+len(pkt.Data)+attachmentsLen(pkt.Attachments))
	b = msgpack.AppendMapHeader(b, 4)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, clusterBroadcast)
	b = msgpack.AppendString(b, "data")
	nd := 2
	if requestID != "" {
		nd = 3
	}
	b = msgpack.AppendMapHeader(b, nd)
	b = msgpack.AppendString(b, "packet")
	b = msgpack.AppendMapHeader(b, 2)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, uint64(socketio.Event))
	b = msgpack.AppendString(b, "data")
	b, err := jsonToMsgpack(b, pkt.Data, pkt.Attachments)
	if err != nil {
		return "", nil, err
	}
	b = msgpack.AppendString(b, "opts")
	b = appendMsgpackOpts(b, opts)
	if requestID != "" {
		b = msgpack.AppendString(b, "requestId")
		b = msgpack.AppendString(b, requestID)
	}
	return ch, n.appendMsgpackTail(b), nil
}

func (n *namespace) appendMsgpackTail(b []byte) []byte {
	b = msgpack.AppendString(b, "uid")
	b = msgpack.AppendString(b, n.a.uid)
	b = msgpack.AppendString(b, "nsp")
	return msgpack.AppendString(b, n.name)
}

func (n *namespace) encodeCluster(typ int, data clusterData) ([]byte, error) {
	d, err := marshalJSON(data)
	if err != nil {
		return nil, err
	}
	b, err := marshalJSON(clusterMessage{Type: typ, Data: d, UID: n.a.uid, NSP: n.name})
	if err != nil || !n.streams {
		return b, err
	}
	return jsonToMsgpack(make([]byte, 0, len(b)), b, nil)
}

// clusterOpData is the type and data of a ClusterAdapter join (4), leave
// (5) or disconnect (6).
func clusterOpData(op clusterOp, opts adapter.Options, rooms []string, close bool) (int, clusterData) {
	d := clusterData{Opts: toWireOpts(opts)}
	typ := clusterDisconnectSockets
	switch op {
	case opSocketsJoin:
		typ, d.Rooms = clusterSocketsJoin, (*roomList)(&rooms)
	case opSocketsLeave:
		typ, d.Rooms = clusterSocketsLeave, (*roomList)(&rooms)
	default:
		d.Close = &close
	}
	return typ, d
}

func (n *namespace) encodeShardedOp(op clusterOp, opts adapter.Options, rooms []string, close bool) (string, []byte, error) {
	b, err := n.encodeCluster(clusterOpData(op, opts, rooms, close))
	return n.bcChannel, b, err
}

func (n *namespace) encodeShardedFetch(id string, opts adapter.Options) (string, []byte, error) {
	b, err := n.encodeCluster(clusterFetchSockets, clusterData{Opts: toWireOpts(opts), RequestID: id})
	return n.bcChannel, b, err
}

func (n *namespace) encodeShardedServerSideEmit(id string, data json.RawMessage) (string, []byte, error) {
	b, err := n.encodeCluster(clusterServerSideEmit, clusterData{RequestID: id, Packet: data})
	return n.bcChannel, b, err
}

// respondSharded publishes a response to the requester's private channel.
func (n *namespace) respondSharded(requester string, typ int, d clusterData) {
	b, err := n.encodeCluster(typ, d)
	if err != nil {
		n.a.log.Error("redis adapter: encoding response", "err", err)
		return
	}
	n.publish(n.bcChannel+requester+"#", b)
}

// onShardedMessage handles every sharded channel of the namespace, and the
// pub/sub channels of the streams format.
func (n *namespace) onShardedMessage(ch, _ string, payload []byte) {
	var m clusterMessage
	atts, reason, err := decodeDoc(payload, &m)
	if err != nil {
		n.a.bad(ch, reason, err)
		return
	}
	n.onClusterMessage(ch, m, atts, "")
}

// onClusterMessage handles one ClusterAdapter message; offset is the
// stream entry ID of a message read from a stream.
func (n *namespace) onClusterMessage(ch string, m clusterMessage, atts [][]byte, offset string) {
	if m.UID == n.a.uid || m.NSP != n.name {
		return
	}
	var d clusterData
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &d); err != nil {
			n.a.bad(ch, reasonJSON, err)
			return
		}
	}
	switch m.Type {
	case clusterInitialHeartbeat, clusterHeartbeat, clusterAdapterClose:
	case clusterBroadcast:
		n.serveShardedBroadcast(ch, m.UID, d, atts, offset)
	case clusterSocketsJoin:
		n.a.stats.requestsServed.Add(1)
		n.localJoin(d.Opts.options(), derefRooms(d.Rooms))
	case clusterSocketsLeave:
		n.a.stats.requestsServed.Add(1)
		n.localLeave(d.Opts.options(), derefRooms(d.Rooms))
	case clusterDisconnectSockets:
		n.a.stats.requestsServed.Add(1)
		n.localDisconnect(d.Opts.options(), d.Close != nil && *d.Close)
	case clusterFetchSockets:
		n.a.stats.requestsServed.Add(1)
		infos := encodeSockets(n.localInfos(d.Opts.options()))
		sockets, err := marshalJSON(infos)
		if err != nil {
			return
		}
		n.respondSharded(m.UID, clusterFetchResponse, clusterData{RequestID: d.RequestID, Sockets: sockets})
	case clusterServerSideEmit:
		if len(d.Packet) == 0 || d.Packet[0] != '[' {
			n.a.bad(ch, reasonPacket, errNoArray)
			return
		}
		n.a.stats.requestsServed.Add(1)
		var ack func(json.RawMessage)
		if d.RequestID != "" {
			id, requester := d.RequestID, m.UID
			ack = onceAck(func(arg json.RawMessage) {
				if len(arg) == 0 {
					arg = json.RawMessage("null")
				}
				n.respondSharded(requester, clusterServerSideEmitRes, clusterData{RequestID: id, Packet: arg})
			})
		}
		n.local.ServerSideEmit(d.Packet, ack)
	case clusterFetchResponse:
		socks, err := decodeSockets(d.Sockets)
		if err != nil {
			n.a.bad(ch, reasonJSON, err)
			return
		}
		n.reply(d.RequestID, reqFetch, func(p *pending) { p.sockets = append(p.sockets, socks...) })
	case clusterServerSideEmitRes:
		data := append(json.RawMessage(nil), d.Packet...)
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		n.reply(d.RequestID, reqServerSideEmit, func(p *pending) { p.replies = append(p.replies, data) })
	case clusterClientCount:
		if w := n.ackWaiter(d.RequestID); w != nil && d.ClientCount != nil {
			w.clientCount(*d.ClientCount)
		}
	case clusterBroadcastAck:
		if w := n.ackWaiter(d.RequestID); w != nil {
			w.ack(n.ackPacket(d.Packet, atts))
		}
	default:
		n.a.bad(ch, reasonType, fmt.Errorf("message type %d", m.Type))
	}
}

func (n *namespace) serveShardedBroadcast(ch, requester string, d clusterData, atts [][]byte, offset string) {
	var pk struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(d.Packet, &pk); err != nil || len(pk.Data) == 0 || pk.Data[0] != '[' {
		n.a.bad(ch, reasonPacket, errors.New("bad broadcast packet"))
		return
	}
	if pk.Type != int(socketio.Event) && pk.Type != int(socketio.BinaryEvent) {
		n.a.bad(ch, reasonType, fmt.Errorf("packet type %d", pk.Type))
		return
	}
	pkt := n.eventPacket(append([]byte(nil), pk.Data...), atts)
	opts := d.Opts.options()
	if d.RequestID == "" {
		if offset != "" && n.rec.Load() != nil && adapter.Stored(pkt, opts) {
			pkt = adapter.WithOffset(pkt, offset)
		}
		n.local.Deliver(pkt, opts.Flags, n.sockets(opts))
		return
	}
	n.a.stats.requestsServed.Add(1)
	id := d.RequestID
	n.ackBroadcast(pkt, opts, func(count int) {
		n.respondSharded(requester, clusterClientCount, clusterData{RequestID: id, ClientCount: &count})
	}, func(ack *socketio.Packet) {
		n.publishShardedAck(requester, id, ack)
	})
}

// publishShardedAck sends type 12: JSON, or msgpack when the ack carries
// binary.
func (n *namespace) publishShardedAck(requester, id string, ack *socketio.Packet) {
	ch := n.bcChannel + requester + "#"
	if len(ack.Attachments) == 0 { // JSON, or msgpack by encodeCluster for streams
		elems, err := socketio.SplitArray(ack.Data)
		arg := json.RawMessage("null")
		if err == nil && len(elems) > 0 {
			arg = elems[0]
		}
		n.respondSharded(requester, clusterBroadcastAck, clusterData{RequestID: id, Packet: arg})
		return
	}
	b := msgpack.AppendMapHeader(nil, 4)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, clusterBroadcastAck)
	b = msgpack.AppendString(b, "data")
	b = msgpack.AppendMapHeader(b, 2)
	b = msgpack.AppendString(b, "requestId")
	b = msgpack.AppendString(b, id)
	b = msgpack.AppendString(b, "packet")
	b, err := appendFirstArg(b, ack)
	if err != nil {
		return
	}
	n.publish(ch, n.appendMsgpackTail(b))
}

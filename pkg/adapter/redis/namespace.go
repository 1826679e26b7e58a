package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// namespace is the adapter of one namespace. Its embedded Rooms index holds
// this node's sockets; everything else is the cluster side, in the classic
// or sharded format.
type namespace struct {
	*adapter.Rooms
	a       *Adapter
	local   adapter.Local
	name    string
	sharded bool
	streams bool // the streams format: ClusterAdapter messages, stream + pub/sub
	spub    bool // publish with SPUBLISH (sharded, or streams with Sharded)
	stream  string
	rec     atomic.Pointer[adapter.RecoveryConfig] // streams, once recovery is enabled

	// Classic: broadcast prefix <key>#<nsp>#, request, shared and own
	// response channels. Sharded: main <key>#<nsp>#, private <key>#<nsp>#<uid>#.
	bcChannel, reqChannel, respChannel, ownChannel string

	mu       sync.Mutex
	requests map[string]*pending
	acks     map[string]*ackWaiter
	closed   atomic.Bool
}

var _ adapter.Namespace = (*namespace)(nil)

func newNamespace(a *Adapter, local adapter.Local) *namespace {
	n := &namespace{
		a:        a,
		local:    local,
		name:     local.Name(),
		sharded:  a.cfg.Sharded && !a.cfg.Streams,
		streams:  a.cfg.Streams,
		spub:     a.cfg.Sharded,
		requests: make(map[string]*pending),
		acks:     make(map[string]*ackWaiter),
	}
	key := a.cfg.Key
	n.bcChannel = key + "#" + n.name + "#"
	if n.streams {
		n.ownChannel = n.bcChannel + a.uid + "#"
		n.stream = streamName(n.name, a.cfg.StreamName, a.cfg.StreamCount)
		n.Rooms = adapter.NewRooms(nil)
	} else if n.sharded {
		n.ownChannel = n.bcChannel + a.uid + "#"
		var onChange func(string, bool)
		if a.cfg.SubscriptionMode != Static {
			onChange = n.roomChanged
		}
		n.Rooms = adapter.NewRooms(onChange)
	} else {
		n.reqChannel = key + "-request#" + n.name + "#"
		n.respChannel = key + "-response#" + n.name + "#"
		n.ownChannel = n.respChannel + a.uid + "#"
		n.Rooms = adapter.NewRooms(nil)
	}
	return n
}

// subscribe makes the node's subscriptions for this namespace (wire format
// §1: PSUBSCRIBE, then the request channel exactly once, on one connection).
func (n *namespace) subscribe() {
	s := &n.a.subs
	if n.streams {
		s.subscribe(n.subKind(), n.bcChannel, n.ownChannel)
		return
	}
	if n.sharded {
		s.subscribe("ssubscribe", n.bcChannel, n.ownChannel)
		return
	}
	s.subscribe("psubscribe", globEscape(n.bcChannel)+"*")
	s.subscribe("subscribe", n.reqChannel, n.respChannel, n.ownChannel)
}

// globEscape escapes the glob characters of a PSUBSCRIBE pattern.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			if b == nil {
				b = append(make([]byte, 0, len(s)+4), s[:i]...)
			}
			b = append(b, '\\', c)
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// socketIDLength is the length of Node socket IDs; the sharded dynamic mode
// keeps rooms of that length on the main channel (wire format §2).
const socketIDLength = 20

func (n *namespace) dynamicRoom(room string) bool {
	switch n.a.cfg.SubscriptionMode {
	case DynamicPrivate:
		return true
	case Dynamic:
		return len(room) != socketIDLength
	}
	return false
}

// roomChanged runs inside the room index: queue, never wait.
func (n *namespace) roomChanged(room string, created bool) {
	if n.dynamicRoom(room) && !n.closed.Load() {
		n.a.subs.queue(n.bcChannel+room+"#", created)
	}
}

// Close detaches the namespace from the cluster.
func (n *namespace) Close() error {
	if n.closed.Load() {
		return nil
	}
	n.shutdown()
	n.a.detach(n)
	if n.a.isClosed() {
		return nil
	}
	s := &n.a.subs
	if n.streams {
		s.unsubscribe(n.subKind(), n.bcChannel, n.ownChannel)
		return nil
	}
	if n.sharded {
		chs := []string{n.bcChannel, n.ownChannel}
		for _, room := range n.Names() {
			if n.dynamicRoom(room) {
				chs = append(chs, n.bcChannel+room+"#")
			}
		}
		s.forget(chs)
		s.unsubscribe("ssubscribe", chs...)
		return nil
	}
	s.unsubscribe("psubscribe", globEscape(n.bcChannel)+"*")
	s.unsubscribe("subscribe", n.reqChannel, n.respChannel, n.ownChannel)
	return nil
}

// shutdown fails pending requests and forgets ack waiters.
func (n *namespace) shutdown() {
	if n.closed.Swap(true) {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, p := range n.requests {
		delete(n.requests, id)
		close(p.done)
	}
	for id, w := range n.acks {
		delete(n.acks, id)
		w.stop()
	}
}

func (n *namespace) check() error {
	if n.closed.Load() || n.a.isClosed() {
		return adapter.ErrClosed
	}
	return nil
}

// handle routes one message of this namespace.
func (n *namespace) handle(kind channelKind, ch, rest string, payload []byte) {
	if n.closed.Load() {
		return
	}
	if n.sharded || n.streams {
		n.onShardedMessage(ch, rest, payload)
		return
	}
	switch kind {
	case kindBroadcast:
		n.onClassicBroadcast(ch, rest, payload)
	case kindRequest:
		n.onClassicRequest(ch, payload)
	case kindResponse:
		n.onClassicResponse(ch, payload)
	}
}

// publish queues a message; it reports false when it was dropped.
func (n *namespace) publish(ch string, payload []byte) bool {
	return n.a.pub.enqueue(pubItem{channel: ch, payload: payload, sharded: n.spub})
}

func (n *namespace) newRequestID() string {
	if n.sharded || n.streams {
		return randomHex(8)
	}
	return randomUID(6)
}

// --- Local operations (this node's sockets) ---

func (n *namespace) localInfos(opts adapter.Options) []adapter.SocketInfo {
	var out []adapter.SocketInfo
	for s := range n.Select(opts) {
		info := n.local.Info(s)
		info.Rooms = n.SocketRooms(s)
		out = append(out, info)
	}
	return out
}

func (n *namespace) localJoin(opts adapter.Options, rooms []string) {
	for _, s := range n.Collect(opts) {
		n.AddAllIfPresent(s, rooms...) // not a socket that left since Collect
	}
}

func (n *namespace) localLeave(opts adapter.Options, rooms []string) {
	for _, s := range n.Collect(opts) {
		for _, room := range rooms {
			n.Del(s, room)
		}
	}
}

func (n *namespace) localDisconnect(opts adapter.Options, close bool) {
	for _, s := range n.Collect(opts) {
		n.local.Disconnect(s, close)
	}
}

func (n *namespace) sockets(opts adapter.Options) iter.Seq[adapter.Socket] { return n.Select(opts) }

// --- adapter.Namespace ---

// Broadcast delivers locally, then queues one publish (encoded once).
func (n *namespace) Broadcast(_ context.Context, pkt *socketio.Packet, opts adapter.Options) error {
	if err := n.check(); err != nil {
		return err
	}
	if n.streams {
		return n.streamsBroadcast(pkt, opts)
	}
	var err error
	if !opts.Flags.Local {
		// Publish first: the other nodes start delivering while this one
		// writes to its own sockets.
		var ch string
		var payload []byte
		if ch, payload, err = n.encodeBroadcast(pkt, opts, ""); err == nil {
			n.publish(ch, payload)
		} else {
			err = fmt.Errorf("redis: broadcast: %w", err)
		}
	}
	n.local.Deliver(pkt, opts.Flags, n.sockets(opts))
	return err
}

func (n *namespace) encodeBroadcast(pkt *socketio.Packet, opts adapter.Options, requestID string) (string, []byte, error) {
	if n.sharded || n.streams {
		return n.encodeShardedBroadcast(pkt, opts, requestID)
	}
	if requestID != "" {
		b, err := n.encodeClassicAckRequest(pkt, opts, requestID)
		return n.reqChannel, b, err
	}
	return n.encodeClassicBroadcast(pkt, opts)
}

func (n *namespace) BroadcastWithAck(ctx context.Context, pkt *socketio.Packet, opts adapter.Options, clientCount func(int), ack func(*socketio.Packet)) error {
	if err := n.check(); err != nil {
		return err
	}
	if !opts.Flags.Local {
		id := n.newRequestID()
		ch, payload, err := n.encodeBroadcast(pkt, opts, id)
		if err != nil {
			return fmt.Errorf("redis: broadcast: %w", err)
		}
		d := opts.Flags.Timeout
		if d <= 0 {
			d = n.a.cfg.RequestsTimeout
		}
		n.addAckWaiter(ctx, id, d, clientCount, ack)
		n.a.stats.requestsSent.Add(1)
		n.publish(ch, payload)
	}
	clientCount(n.local.DeliverWithAck(ctx, pkt, opts.Flags, n.sockets(opts), ack))
	return nil
}

func (n *namespace) SocketsJoin(_ context.Context, opts adapter.Options, rooms ...string) error {
	if err := n.check(); err != nil {
		return err
	}
	// Applied here rather than through our own echo (wire format §1: once,
	// either way), so it takes effect even while Redis is away.
	n.localJoin(opts, rooms)
	if !opts.Flags.Local {
		n.publishOp(opSocketsJoin, opts, rooms, false)
	}
	return nil
}

func (n *namespace) SocketsLeave(_ context.Context, opts adapter.Options, rooms ...string) error {
	if err := n.check(); err != nil {
		return err
	}
	n.localLeave(opts, rooms)
	if !opts.Flags.Local {
		n.publishOp(opSocketsLeave, opts, rooms, false)
	}
	return nil
}

func (n *namespace) DisconnectSockets(_ context.Context, opts adapter.Options, close bool) error {
	if err := n.check(); err != nil {
		return err
	}
	n.localDisconnect(opts, close)
	if !opts.Flags.Local {
		n.publishOp(opDisconnect, opts, nil, close)
	}
	return nil
}

func (n *namespace) FetchSockets(ctx context.Context, opts adapter.Options) ([]adapter.SocketInfo, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	infos := n.localInfos(opts)
	if opts.Flags.Local {
		return infos, nil
	}
	count, err := n.ServerCount(ctx)
	if err != nil {
		return infos, err
	}
	if count <= 1 {
		return infos, nil
	}
	p, err := n.request(ctx, "fetchSockets", reqFetch, count-1, opts.Flags.Timeout, func(id string) (string, []byte, error) {
		return n.encodeFetchRequest(id, opts)
	})
	if p != nil {
		infos = append(infos, p.sockets...)
	}
	return infos, err
}

func (n *namespace) ServerSideEmit(ctx context.Context, data json.RawMessage) error {
	if err := n.check(); err != nil {
		return err
	}
	ch, payload, err := n.encodeServerSideEmit("", data)
	if err != nil {
		return err
	}
	n.publish(ch, payload)
	return nil
}

func (n *namespace) ServerSideEmitWithAck(ctx context.Context, data json.RawMessage) ([]json.RawMessage, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	count, err := n.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if count <= 1 {
		return []json.RawMessage{}, nil
	}
	p, err := n.request(ctx, "serverSideEmit", reqServerSideEmit, count-1, 0, func(id string) (string, []byte, error) {
		return n.encodeServerSideEmit(id, data)
	})
	if p == nil {
		return nil, err
	}
	return p.replies, err
}

func (n *namespace) AllRooms(ctx context.Context) ([]string, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	rooms := n.Names()
	if n.sharded || n.streams {
		// The ClusterAdapter format has no all-rooms request (wire format
		// §2): ask for every socket and collect their rooms.
		infos, err := n.FetchSockets(ctx, adapter.Options{})
		return mergeRooms(rooms, infosRooms(infos)), err
	}
	count, err := n.ServerCount(ctx)
	if err != nil {
		return rooms, err
	}
	if count <= 1 {
		return rooms, nil
	}
	p, err := n.request(ctx, "allRooms", reqAllRooms, count-1, 0, func(id string) (string, []byte, error) {
		b, err := marshalJSON(classicRequest{UID: n.a.uid, RequestID: id, Type: classicAllRooms})
		return n.reqChannel, b, err
	})
	if p != nil {
		rooms = mergeRooms(rooms, p.rooms)
	}
	if err != nil {
		var te *adapter.TimeoutError
		if errors.As(err, &te) {
			te.Op = "allRooms"
		}
	}
	return rooms, err
}

func infosRooms(infos []adapter.SocketInfo) []string {
	var out []string
	for _, s := range infos {
		out = append(out, s.Rooms...)
	}
	return out
}

// mergeRooms appends the rooms of more that are not in rooms yet.
func mergeRooms(rooms, more []string) []string {
	seen := make(map[string]struct{}, len(rooms)+len(more))
	for _, r := range rooms {
		seen[r] = struct{}{}
	}
	for _, r := range more {
		if _, ok := seen[r]; !ok {
			seen[r] = struct{}{}
			rooms = append(rooms, r)
		}
	}
	return rooms
}

// ServerCount asks Redis how many nodes subscribe to the namespace:
// NUMSUB of the request channel (classic), SHARDNUMSUB of the main channel
// (sharded), or NUMSUB/SHARDNUMSUB of the main channel (streams, as Node's
// streams adapter counts).
func (n *namespace) ServerCount(ctx context.Context) (int, error) {
	if err := n.check(); err != nil {
		return 0, err
	}
	switch {
	case n.streams:
		return n.countSubscribers(ctx, n.bcChannel, n.spub)
	case n.sharded:
		return n.countSubscribers(ctx, n.bcChannel, true)
	}
	return n.countSubscribers(ctx, n.reqChannel, false)
}

// countSubscribers counts the subscribers of ch: of shard channels on the
// master of ch's slot, of plain channels summed over every master of a
// Redis Cluster, as Node does.
func (n *namespace) countSubscribers(ctx context.Context, ch string, shard bool) (int, error) {
	var (
		c   int64
		err error
	)
	cc, cluster := n.a.client.(*goredis.ClusterClient)
	switch {
	case shard && cluster:
		// go-redis sends PUBSUB to any node; a shard channel's subscribers
		// are known to its slot's master only.
		var master *goredis.Client
		if master, err = cc.MasterForKey(ctx, ch); err == nil {
			c, err = sumCounts(master.PubSubShardNumSub(ctx, ch).Result())
		}
	case shard:
		c, err = sumCounts(n.a.client.PubSubShardNumSub(ctx, ch).Result())
	case cluster:
		// Each node knows its own SUBSCRIBE connections.
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, master *goredis.Client) error {
			v, err := sumCounts(master.PubSubNumSub(ctx, ch).Result())
			mu.Lock()
			c += v
			mu.Unlock()
			return err
		})
	default:
		c, err = sumCounts(n.a.client.PubSubNumSub(ctx, ch).Result())
	}
	if err != nil {
		return 0, fmt.Errorf("redis: server count: %w", err)
	}
	return int(c), nil
}

func sumCounts(m map[string]int64, err error) (int64, error) {
	var c int64
	for _, v := range m {
		c += v
	}
	return c, err
}

// --- Pending requests ---

type reqKind uint8

const (
	reqAllRooms reqKind = iota + 1
	reqFetch
	reqServerSideEmit
	numReqKinds = iota // the kinds above, in the order of RequestTypes
)

type pending struct {
	kind     reqKind
	expected int
	received int
	rooms    []string
	sockets  []adapter.SocketInfo
	replies  []json.RawMessage
	done     chan struct{}
}

// request registers a request, publishes it and waits for expected replies,
// the deadline (timeout or RequestsTimeout, and ctx) or Close. On a timeout
// it returns what arrived and a *adapter.TimeoutError.
func (n *namespace) request(ctx context.Context, op string, kind reqKind, expected int, timeout time.Duration,
	encode func(id string) (string, []byte, error)) (*pending, error) {
	if timeout <= 0 {
		timeout = n.a.cfg.RequestsTimeout
	}
	id := n.newRequestID()
	ch, payload, err := encode(id)
	if err != nil {
		return nil, err
	}
	p := &pending{kind: kind, expected: expected, done: make(chan struct{})}
	n.mu.Lock()
	if n.closed.Load() {
		n.mu.Unlock()
		return nil, adapter.ErrClosed
	}
	n.requests[id] = p
	n.mu.Unlock()
	n.a.stats.requestsSent.Add(1)
	defer n.a.stats.requestDuration[kind-1].ObserveSince(time.Now())

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !n.publish(ch, payload) {
		n.mu.Lock()
		delete(n.requests, id)
		n.mu.Unlock()
		return nil, errQueueFull
	}
	select {
	case <-p.done:
		n.mu.Lock()
		defer n.mu.Unlock()
		if p.received < p.expected {
			return p, adapter.ErrClosed
		}
		return p, nil
	case <-ctx.Done():
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.requests[id]; !ok { // completed meanwhile
		if p.received < p.expected {
			return p, adapter.ErrClosed
		}
		return p, nil
	}
	delete(n.requests, id)
	n.a.stats.requestTimeouts.Add(1)
	return p, &adapter.TimeoutError{Op: op, Received: p.received, Expected: p.expected}
}

// reply records one reply to request id; add runs under n.mu.
func (n *namespace) reply(id string, kind reqKind, add func(p *pending)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.requests[id]
	if p == nil || p.kind != kind {
		return
	}
	p.received++
	add(p)
	if p.received >= p.expected {
		delete(n.requests, id)
		close(p.done)
	}
}

// ackWaiter collects the client counts and acks of a broadcast with acks.
type ackWaiter struct {
	clientCount func(int)
	ack         func(*socketio.Packet)
	timer       *time.Timer
	stopCtx     func() bool
}

func (w *ackWaiter) stop() {
	w.timer.Stop()
	w.stopCtx()
}

func (n *namespace) addAckWaiter(ctx context.Context, id string, d time.Duration, clientCount func(int), ack func(*socketio.Packet)) {
	w := &ackWaiter{clientCount: clientCount, ack: ack}
	remove := func() {
		n.mu.Lock()
		if n.acks[id] == w {
			delete(n.acks, id)
		}
		n.mu.Unlock()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	w.timer = time.AfterFunc(d, remove)
	w.stopCtx = context.AfterFunc(ctx, remove)
	if n.closed.Load() {
		w.stop()
		return
	}
	n.acks[id] = w
}

func (n *namespace) ackWaiter(id string) *ackWaiter {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.acks[id]
}

// ackPacket turns a remote client's ack argument (JSON + attachments) into
// the ACK packet the caller's ack callback expects.
func (n *namespace) ackPacket(arg json.RawMessage, atts [][]byte) *socketio.Packet {
	if len(arg) == 0 {
		arg = json.RawMessage("null")
	}
	data := make([]byte, 0, len(arg)+2)
	data = append(append(append(data, '['), arg...), ']')
	p := &socketio.Packet{Type: socketio.Ack, Namespace: n.name, Data: data}
	if len(atts) > 0 {
		p.Type = socketio.BinaryAck
		p.Attachments = copyAttachments(atts)
	}
	return p
}

func copyAttachments(atts [][]byte) [][]byte {
	out := make([][]byte, len(atts))
	for i, a := range atts {
		out[i] = append([]byte(nil), a...)
	}
	return out
}

// onceAck wraps a reply function so that it runs at most once.
func onceAck(f func(json.RawMessage)) func(json.RawMessage) {
	var once sync.Once
	return func(arg json.RawMessage) { once.Do(func() { f(arg) }) }
}

var errNoArray = errors.New("event data is not an array")

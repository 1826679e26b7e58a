package redis

// The streams format, wire-compatible with Node's
// @socket.io/redis-streams-adapter 0.3.x: a namespace is routed to one
// stream (StreamName, or StreamName-i with i = Node's 32-bit string hash of
// the namespace name modulo StreamCount, sign included, as JavaScript's %
// keeps it). Broadcasts without acks and remote join/leave/disconnect are
// XADDed (MAXLEN ~) with the fields uid, nsp, type (decimal) and data
// (JSON.stringify of the ClusterAdapter message data, or base64 MessagePack
// when it holds binary); every node reads every stream with XREAD from the
// moment it starts. Broadcasts with acks, fetchSockets and serverSideEmit
// requests go over pub/sub on <key>#<nsp># and responses to
// <key>#<nsp>#<uid>#, always MessagePack. Recovery sessions are
// base64(MessagePack({sid, pid, rooms, data})) under
// <SessionKeyPrefix><pid>, SET with PX MaxDisconnection, taken back with
// MULTI GET DEL.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// hashCode is Node's hashCode: Java's String.hashCode over the UTF-16 code
// units, in wrapping 32-bit arithmetic (so it may be negative).
func hashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = h*31 + int32(hi)
			h = h*31 + int32(lo)
			continue
		}
		h = h*31 + int32(r)
	}
	return h
}

// streamName is Node's computeStreamName. Go's % truncates like
// JavaScript's, so a negative hash gives a negative index ("socket.io--2"),
// as Node names the stream.
func streamName(nsp, base string, count int) string {
	if count <= 1 {
		return base
	}
	return base + "-" + strconv.Itoa(int(hashCode(nsp)%int32(count)))
}

func (a *Adapter) streamNames() []string {
	if a.cfg.StreamCount <= 1 {
		return []string{a.cfg.StreamName}
	}
	names := make([]string, a.cfg.StreamCount)
	for i := range names {
		names[i] = a.cfg.StreamName + "-" + strconv.Itoa(i)
	}
	return names
}

func (n *namespace) subKind() string {
	if n.spub {
		return "ssubscribe"
	}
	return "subscribe"
}

// --- Writing to the stream ---

// streamValues are the XADD fields of a message, in Node's order.
func (n *namespace) streamValues(typ int, data string) []string {
	return []string{"uid", n.a.uid, "nsp", n.name, "type", strconv.Itoa(typ), "data", data}
}

// broadcastData encodes the data of a type 3 message: JSON, or base64
// MessagePack when the packet carries binary.
func broadcastData(pkt *socketio.Packet, opts adapter.Options) (string, error) {
	if len(pkt.Attachments) == 0 {
		b := make([]byte, 0, 96+len(pkt.Data))
		b = append(b, `{"packet":{"type":2,"data":`...)
		b = append(b, pkt.Data...)
		b = append(b, `},"opts":`...)
		b = appendJSONOpts(b, opts)
		return string(append(b, '}')), nil
	}
	b := make([]byte, 0, 96+len(pkt.Data)+attachmentsLen(pkt.Attachments))
	b = msgpack.AppendMapHeader(b, 2)
	b = msgpack.AppendString(b, "packet")
	b = msgpack.AppendMapHeader(b, 2)
	b = msgpack.AppendString(b, "type")
	b = msgpack.AppendUint(b, uint64(socketio.Event))
	b = msgpack.AppendString(b, "data")
	b, err := jsonToMsgpack(b, pkt.Data, pkt.Attachments)
	if err != nil {
		return "", err
	}
	b = msgpack.AppendString(b, "opts")
	b = appendMsgpackOpts(b, opts)
	return base64.StdEncoding.EncodeToString(b), nil
}

// streamsBroadcast XADDs a broadcast and delivers it here. A broadcast that
// the history keeps (recovery on) is delivered once Redis has given it its
// entry ID, which is appended as its offset, so that this node's clients
// see the stream's order; others are delivered at once.
func (n *namespace) streamsBroadcast(pkt *socketio.Packet, opts adapter.Options) error {
	if opts.Flags.Local {
		n.local.Deliver(pkt, opts.Flags, n.sockets(opts))
		return nil
	}
	data, err := broadcastData(pkt, opts)
	if err != nil {
		n.local.Deliver(pkt, opts.Flags, n.sockets(opts))
		return fmt.Errorf("redis: broadcast: %w", err)
	}
	it := pubItem{stream: n.stream, values: n.streamValues(clusterBroadcast, data), maxLen: n.a.cfg.StreamMaxLen}
	if n.rec.Load() == nil || !adapter.Stored(pkt, opts) {
		n.a.pub.enqueue(it)
		n.local.Deliver(pkt, opts.Flags, n.sockets(opts))
		return nil
	}
	pkt = adapter.ClonePacket(pkt) // delivered after this call returns
	it.after = func(id string, err error) {
		p := pkt
		if err == nil && id != "" {
			p = adapter.WithOffset(pkt, id)
		}
		n.local.Deliver(p, opts.Flags, n.sockets(opts))
	}
	n.a.pub.enqueue(it)
	return nil
}

// publishStreamOp XADDs a remote join, leave or disconnect.
func (n *namespace) publishStreamOp(op clusterOp, opts adapter.Options, rooms []string, close bool) {
	typ, d := clusterOpData(op, opts, rooms, close)
	b, err := marshalJSON(d)
	if err != nil {
		n.a.log.Error("redis adapter: encoding request", "err", err)
		return
	}
	n.a.stats.requestsSent.Add(1)
	n.a.pub.enqueue(pubItem{stream: n.stream, values: n.streamValues(typ, string(b)), maxLen: n.a.cfg.StreamMaxLen})
}

// --- Reading the streams ---

// streamReader is the state of the goroutines that read the streams.
type streamReader struct {
	mu      sync.Mutex
	err     error                     // last XREAD error; nil while reading works
	clients []goredis.UniversalClient // one per stream, closed by Close

	lagMs   atomic.Int64 // age of the last entry read, ms
	entries atomic.Uint64
}

func (r *streamReader) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *streamReader) health() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// startStreams starts one reader per stream, each from the stream's last
// entry at this moment (so that nothing XADDed after New is missed), or
// from "$" when Redis cannot say.
func (a *Adapter) startStreams() {
	for _, name := range a.streamNames() {
		offset := "$"
		ctx, cancel := context.WithTimeout(a.ctx, 2*time.Second)
		if last, err := a.client.XRevRangeN(ctx, name, "+", "-", 1).Result(); err == nil {
			offset = "0-0"
			if len(last) > 0 {
				offset = last[0].ID
			}
		}
		cancel()
		c := a.client
		if d, ok := duplicate(a.client); ok {
			c = d
			a.reader.clients = append(a.reader.clients, d)
		}
		a.wg.Add(1)
		go a.readStream(c, name, offset)
	}
}

// duplicate makes a client of its own for a blocking reader (as Node's
// adapter does), so that Close can interrupt its XREAD by closing it.
// Other client kinds share the adapter's client, and Close waits for the
// running XREAD (StreamBlock).
func duplicate(c goredis.UniversalClient) (goredis.UniversalClient, bool) {
	switch c := c.(type) {
	case *goredis.Client:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = 1, 0, 1
		return goredis.NewClient(&o), true
	case *goredis.ClusterClient:
		o := *c.Options()
		return goredis.NewClusterClient(&o), true
	}
	return nil, false
}

// closeReaders interrupts the blocked XREADs.
func (r *streamReader) closeReaders() {
	for _, c := range r.clients {
		c.Close()
	}
}

func (a *Adapter) readStream(c goredis.UniversalClient, name, offset string) {
	defer a.wg.Done()
	r := &a.reader
	backoff := 100 * time.Millisecond
	for a.ctx.Err() == nil {
		res, err := c.XRead(a.ctx, &goredis.XReadArgs{
			Streams: []string{name, offset},
			Count:   a.cfg.StreamReadCount,
			Block:   a.cfg.StreamBlock,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			r.setErr(nil)
			continue
		}
		if err != nil {
			if a.ctx.Err() != nil {
				return
			}
			if r.health() == nil {
				a.log.Warn("redis adapter: reading the stream fails; retrying", "stream", name, "err", err)
			}
			r.setErr(err)
			if !a.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if r.health() != nil {
			a.log.Info("redis adapter: reading the stream works again", "stream", name)
		}
		r.setErr(nil)
		backoff = 100 * time.Millisecond
		for _, st := range res {
			for _, m := range st.Messages {
				a.onStreamEntry(name, m)
				offset = m.ID
			}
		}
	}
}

// entryTime is the millisecond part of a stream entry ID.
func entryTime(id string) (int64, bool) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(ms, 10, 64)
	return v, err == nil
}

func field(m goredis.XMessage, k string) string {
	s, _ := m.Values[k].(string)
	return s
}

// onStreamEntry handles one entry of a stream. It never panics.
func (a *Adapter) onStreamEntry(stream string, m goredis.XMessage) {
	defer func() {
		if p := recover(); p != nil {
			a.bad(stream, reasonPanic, fmt.Errorf("panic: %v", p))
		}
	}()
	a.stats.received.Add(1)
	a.reader.entries.Add(1)
	if ms, ok := entryTime(m.ID); ok {
		a.reader.lagMs.Store(max(0, time.Now().UnixMilli()-ms))
	}
	nsp := field(m, "nsp")
	if nsp == "" {
		return // Node skips entries without a namespace too
	}
	n := a.namespace(nsp)
	if n == nil || !n.streams || n.closed.Load() {
		return // a namespace this node does not serve
	}
	msg, atts, reason, err := decodeStreamEntry(m, a.cfg.MaxMessageSize)
	if err != nil {
		a.bad(stream, reason, err)
		return
	}
	n.onClusterMessage(stream, msg, atts, m.ID)
}

// decodeStreamEntry reads the fields of an entry into a ClusterAdapter
// message whose data is JSON (binary as placeholders and atts).
func decodeStreamEntry(m goredis.XMessage, maxSize int) (clusterMessage, [][]byte, badReason, error) {
	msg := clusterMessage{UID: field(m, "uid"), NSP: field(m, "nsp")}
	typ, err := strconv.Atoi(field(m, "type"))
	if err != nil {
		return msg, nil, reasonType, fmt.Errorf("entry type %q", field(m, "type"))
	}
	msg.Type = typ
	data := field(m, "data")
	if len(data) > maxSize {
		return msg, nil, reasonOversized, fmt.Errorf("%d bytes", len(data))
	}
	if data == "" {
		return msg, nil, 0, nil
	}
	if data[0] == '{' {
		if !json.Valid([]byte(data)) {
			return msg, nil, reasonJSON, errors.New("invalid JSON data")
		}
		msg.Data = json.RawMessage(data)
		return msg, nil, 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return msg, nil, reasonMsgpack, fmt.Errorf("base64: %w", err)
	}
	js, atts, err := msgpackToJSONDoc(raw)
	if err != nil {
		return msg, nil, reasonMsgpack, err
	}
	msg.Data = js
	return msg, atts, 0, nil
}

// --- Connection state recovery ---

var _ adapter.Recoverer = (*namespace)(nil)

// EnableRecovery turns on offsets; only the streams format keeps the
// history recovery needs.
func (n *namespace) EnableRecovery(cfg adapter.RecoveryConfig) error {
	if !n.streams {
		return errors.New("redis: connection state recovery needs the streams adapter (Config.Streams): the classic and sharded formats keep no history")
	}
	if cfg.MaxDisconnection <= 0 {
		return errors.New("redis: recovery needs a positive MaxDisconnection")
	}
	n.rec.Store(&cfg)
	return nil
}

func (n *namespace) recovery() (*adapter.RecoveryConfig, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	cfg := n.rec.Load()
	if cfg == nil {
		return nil, errors.New("redis: recovery is not enabled")
	}
	return cfg, nil
}

func (n *namespace) sessionKey(pid string) string { return n.a.cfg.SessionKeyPrefix + pid }

// encodeSession is base64(MessagePack({sid, pid, rooms, data})); unset data
// is stored as {} (socket.io's default socket.data).
func encodeSession(s adapter.Session) (string, error) {
	data := []byte("{}")
	switch v := s.Data.(type) {
	case nil:
	case json.RawMessage:
		if len(v) > 0 && string(v) != "null" {
			data = v
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("redis: session data: %w", err)
		}
		if string(b) != "null" {
			data = b
		}
	}
	b := msgpack.AppendMapHeader(nil, 4)
	b = msgpack.AppendString(b, "sid")
	b = msgpack.AppendString(b, s.SID)
	b = msgpack.AppendString(b, "pid")
	b = msgpack.AppendString(b, s.PID)
	b = msgpack.AppendString(b, "rooms")
	b = appendRooms(b, s.Rooms)
	b = msgpack.AppendString(b, "data")
	b, err := jsonToMsgpack(b, data, nil)
	if err != nil {
		return "", fmt.Errorf("redis: session data: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func decodeSession(raw string) (*adapter.Session, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	js, _, err := msgpackToJSONDoc(b)
	if err != nil {
		return nil, err
	}
	var w struct {
		SID   string          `json:"sid"`
		PID   string          `json:"pid"`
		Rooms roomList        `json:"rooms"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(js, &w); err != nil {
		return nil, err
	}
	s := &adapter.Session{SID: w.SID, PID: w.PID, Rooms: w.Rooms}
	if d := strings.TrimSpace(string(w.Data)); d != "" && d != "null" && d != "{}" {
		s.Data = json.RawMessage(w.Data)
	}
	return s, nil
}

func (n *namespace) PersistSession(ctx context.Context, s adapter.Session) error {
	cfg, err := n.recovery()
	if err != nil {
		return err
	}
	v, err := encodeSession(s)
	if err != nil {
		return err
	}
	if err := n.a.client.Set(ctx, n.sessionKey(s.PID), v, cfg.MaxDisconnection).Err(); err != nil {
		return fmt.Errorf("redis: storing session: %w", err)
	}
	n.a.stats.sessionsStored.Add(1)
	return nil
}

func (n *namespace) DeleteSession(ctx context.Context, pid string) error {
	if _, err := n.recovery(); err != nil {
		return err
	}
	return n.a.client.Del(ctx, n.sessionKey(pid)).Err()
}

// streamOffset is the form of a stream entry ID, as Node checks it.
var streamOffset = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

func (n *namespace) RestoreSession(ctx context.Context, pid, offset string) (*adapter.Session, error) {
	if _, err := n.recovery(); err != nil {
		return nil, err
	}
	if !streamOffset.MatchString(offset) {
		return nil, fmt.Errorf("%w: offset %q", adapter.ErrInvalidSession, offset)
	}
	var get *goredis.StringCmd
	if _, err := n.a.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, n.sessionKey(pid))
		p.Del(ctx, n.sessionKey(pid))
		return nil
	}); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: restoring session: %w", err)
	}
	raw, err := get.Result()
	if errors.Is(err, goredis.Nil) {
		return nil, adapter.ErrUnknownSession
	}
	if err != nil {
		return nil, fmt.Errorf("redis: restoring session: %w", err)
	}
	at, err := n.a.client.XRange(ctx, n.stream, offset, offset).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: restoring session: %w", err)
	}
	if len(at) == 0 {
		return nil, adapter.ErrOffsetTrimmed
	}
	s, err := decodeSession(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", adapter.ErrInvalidSession, err)
	}
	return s, nil
}

// nextOffset is the ID right after id (an inclusive start for XRANGE that
// works before Redis 6.2's exclusive ranges), as Node computes it.
func nextOffset(id string) string {
	ts, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ts + "-" + strconv.FormatUint(n+1, 10)
}

const (
	missedBatch    = 1000
	maxMissedCalls = 100
)

// MissedPackets reads the stream after offset: the broadcasts of this
// namespace without acks, not volatile, that a socket in rooms would have
// received.
func (n *namespace) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	if _, err := n.recovery(); err != nil {
		return nil, err
	}
	if !streamOffset.MatchString(offset) {
		return nil, fmt.Errorf("%w: offset %q", adapter.ErrInvalidSession, offset)
	}
	var out []*socketio.Packet
	start := nextOffset(offset)
	for range maxMissedCalls {
		entries, err := n.a.client.XRangeN(ctx, n.stream, start, "+", missedBatch).Result()
		if err != nil {
			return out, fmt.Errorf("redis: reading missed packets: %w", err)
		}
		for _, e := range entries {
			if field(e, "nsp") != n.name || field(e, "type") != "3" {
				continue
			}
			if p := n.replayable(e, rooms); p != nil {
				out = append(out, p)
			}
		}
		if len(entries) < missedBatch {
			break
		}
		start = nextOffset(entries[len(entries)-1].ID)
	}
	return out, nil
}

func (n *namespace) replayable(e goredis.XMessage, rooms []string) *socketio.Packet {
	m, atts, _, err := decodeStreamEntry(e, n.a.cfg.MaxMessageSize)
	if err != nil {
		return nil
	}
	var d clusterData
	if json.Unmarshal(m.Data, &d) != nil || d.RequestID != "" {
		return nil
	}
	var pk struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(d.Packet, &pk) != nil || len(pk.Data) == 0 || pk.Data[0] != '[' {
		return nil
	}
	opts := d.Opts.options()
	if opts.Flags.Volatile || !adapter.ShouldReplay(rooms, opts) {
		return nil
	}
	return adapter.WithOffset(n.eventPacket(append([]byte(nil), pk.Data...), atts), e.ID)
}

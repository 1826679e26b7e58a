package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

type socketState uint8

const (
	statePending   socketState = iota // CONNECT received, middleware running
	stateConnected                    // in the adapter index, CONNECT sent
	stateClosed
)

type jobKind uint8

const (
	jobConnect jobKind = iota
	jobEvent
	jobDisconnect
)

// job is one unit of a socket's serial work, linked in the socket's queue.
// An event's job carries the Event its handler gets: handed to a handler
// that owns it (On), the job goes with it; lent to one that borrows it
// (OnBorrowed), it returns to jobPool when the handler is done, so the
// received event costs no allocation.
type job struct {
	next    *job
	kind    jobKind
	reason  string // jobDisconnect
	rawName []byte // jobEvent: the name's element, when the decoder split the data
	ev      Event  // jobEvent
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// eventJob returns a job for the received event p, from jobPool. elems,
// when not empty, are the elements of p.Data that the decoder found; they
// are copied.
func eventJob(p *socketio.Packet, elems [][]byte) *job {
	j := jobPool.Get().(*job)
	j.kind = jobEvent
	j.ev.Data, j.ev.Attachments, j.ev.id, j.ev.hasAck = p.Data, p.Attachments, p.ID, p.HasID
	if len(elems) > 0 {
		j.rawName = elems[0]
		if len(elems) <= len(j.ev.elems) {
			n := copy(j.ev.elems[:], elems)
			j.ev.args = j.ev.elems[1:n:n]
		} else {
			j.ev.args = append([][]byte(nil), elems[1:]...)
		}
	}
	return j
}

// release returns a job that nobody refers to any more to jobPool, cleared
// so that the pool keeps no payload alive.
func (j *job) release() {
	*j = job{}
	jobPool.Put(j)
}

// size is what an event job holds in memory: its data and attachments.
func (j *job) size() int {
	if j.kind != jobEvent {
		return 0
	}
	n := len(j.ev.Data)
	for _, a := range j.ev.Attachments {
		n += len(a)
	}
	return n
}

// handlerEntry is a registered event handler; borrowed: it only borrows
// the Event (OnBorrowed).
type handlerEntry struct {
	h        EventHandler
	borrowed bool
}

// Socket is a client connected to one namespace. All methods may be called
// concurrently.
type Socket struct {
	id     string
	nsp    *Namespace
	client *client
	auth   json.RawMessage
	rec    *socketRecovery // nil when recovery is off

	mu           sync.Mutex
	state        socketState
	handlers     map[string]handlerEntry
	anyHandler   handlerEntry
	onDisconnect []func(s *Socket, reason string)
	data         any
	user         string
	values       map[any]any                       // SetValue
	acks         map[uint64]func(*socketio.Packet) // called with nil on disconnect
	head, tail   *job                              // the queue of jobs, oldest first
	queueLen     int                               // jobs in the queue (MaxPendingEvents)
	queuedBytes  int                               // of the events in the queue (MaxPendingBytes)
	running      bool                              // a goroutine drains the queue
	drainFn      func()                            // runs drain for Server.goDrain; built on the first queued job
	joinPending  []string                          // rooms joined during middleware, added at connect

	rate *eventRate // nil unless Config.EventRate is set
}

// eventRate is a socket's Config.EventRate state, used on the connection's
// read path only (no lock): the bucket, and the first and last drops of the
// current run of drops.
type eventRate struct {
	limiter             *rate.Limiter
	overSince, lastDrop time.Time
}

// newID returns a random 20-character base64url ID, like socket.io's.
func newID() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID is the socket's ID; the socket is in the room of that name.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// ConnID returns the ID of the Engine.IO connection the socket rides on.
func (s *Socket) ConnID() string { return s.client.conn.ID() }

// Transport returns the current transport: "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Handshake describes how a socket connected.
type Handshake struct {
	Header  http.Header
	Query   url.Values
	Auth    json.RawMessage // the CONNECT payload; nil when the client sent none
	Address string          // the client's remote address
	Time    time.Time       // when the Engine.IO connection was opened
	URL     string          // the handshake request's URL
	Secure  bool            // TLS
	XDomain bool            // the request carried an Origin header
}

// Handshake returns the socket's handshake data; its Header and Query are
// new maps on each call.
func (s *Socket) Handshake() Handshake {
	h := Handshake{Auth: s.auth}
	if r := s.client.req; r != nil {
		h.Header, h.Query, h.Address, h.Time, h.URL, h.Secure, h.XDomain =
			r.Header(), r.Query(), r.RemoteAddr, r.Time, r.URL, r.Secure, r.XDomain
	}
	return h
}

// Info returns the handshake as Node's socket.io reports it.
func (h Handshake) Info() adapter.Handshake {
	info := adapter.Handshake{
		Headers: make(map[string]string, len(h.Header)),
		Query:   make(map[string]string, len(h.Query)),
		Time:    h.Time.Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"),
		Address: h.Address,
		XDomain: h.XDomain,
		Secure:  h.Secure,
		Issued:  h.Time.UnixMilli(),
		URL:     h.URL,
		Auth:    h.Auth,
	}
	for k, v := range h.Header {
		if len(v) > 0 {
			info.Headers[strings.ToLower(k)] = v[0] // Node lowercases header names
		}
	}
	for k, v := range h.Query {
		if len(v) > 0 {
			info.Query[k] = v[0]
		}
	}
	if info.Auth == nil {
		info.Auth = json.RawMessage("{}")
	}
	return info
}

// Data returns the value set by SetData (nil if none).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches a value to the socket; FetchSockets reports it as JSON.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	connected := s.state == stateConnected
	s.mu.Unlock()
	if connected {
		s.changed()
	}
}

// changed tells the eager session store that the socket's rooms or data
// changed.
func (s *Socket) changed() {
	if e := s.nsp.srv.eager; e != nil {
		e.changed(s)
	}
}

// On sets the handler of an event, replacing any previous one. The
// handler owns the *Event it gets: it may keep it and answer later.
func (s *Socket) On(event string, h EventHandler) { s.on(event, handlerEntry{h, false}) }

// OnBorrowed is On for a handler that only borrows the *Event it gets: once
// the handler returns, the Event and the slice its Args method returns are
// reused for a later event, so the handler must answer (Ack, AckRaw,
// AckElements) before it returns and keep neither the Event nor that slice.
// The bytes they refer to (Name, Data, Attachments, each argument) are not
// reused: those the handler may keep. Events reach such a handler without
// any allocation of the session layer's own: the path for handlers that
// answer at once (an echo, a relay, a join).
func (s *Socket) OnBorrowed(event string, h EventHandler) { s.on(event, handlerEntry{h, true}) }

func (s *Socket) on(event string, e handlerEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handlers == nil {
		s.handlers = make(map[string]handlerEntry)
	}
	s.handlers[event] = e
}

// OnAny sets the handler of the events that have no handler of their own;
// it owns the Events it gets, as with On.
func (s *Socket) OnAny(h EventHandler) {
	s.mu.Lock()
	s.anyHandler = handlerEntry{h, false}
	s.mu.Unlock()
}

// OnAnyBorrowed is OnAny for a handler that only borrows the Events it gets
// (see OnBorrowed).
func (s *Socket) OnAnyBorrowed(h EventHandler) {
	s.mu.Lock()
	s.anyHandler = handlerEntry{h, true}
	s.mu.Unlock()
}

// OnDisconnect adds a function called once when the socket disconnects,
// with the reason (see the Reason constants). It runs after the handlers of
// the events that arrived before the disconnection.
func (s *Socket) OnDisconnect(f func(s *Socket, reason string)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, f)
	s.mu.Unlock()
}

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected
}

// Emit sends an event to the client. Arguments are encoded as
// socketio.MarshalArgs does: []byte becomes a binary attachment,
// json.RawMessage is sent as is, anything else through encoding/json.
func (s *Socket) Emit(event string, args ...any) error {
	p, err := eventPacket(event, args)
	if err != nil {
		return err
	}
	return s.send(p, false)
}

// EmitRaw sends data, a JSON array [event, args...] sent as is, with the
// binary attachments its placeholders refer to: the way to relay an event.
func (s *Socket) EmitRaw(data []byte, attachments [][]byte) error {
	return s.send(rawEventPacket(data, attachments), false)
}

// Send emits a "message" event.
func (s *Socket) Send(args ...any) error { return s.Emit("message", args...) }

// EmitWithAck emits an event and waits for the client's ack, until ctx is
// done or the socket disconnects (ErrDisconnected).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (*Args, error) {
	p, err := eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	p.ID, p.HasID = s.nsp.ackIDs.Add(1), true
	ch := make(chan *socketio.Packet, 1)
	if err := s.addAck(p.ID, func(p *socketio.Packet) { ch <- p }); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.send(p, false); err != nil {
		s.removeAck(p.ID)
		return nil, err
	}
	select {
	case reply := <-ch:
		if reply == nil {
			return nil, ErrDisconnected
		}
		s.nsp.srv.stats.ackRoundTrip.ObserveSince(start)
		return newArgs(reply), nil
	case <-ctx.Done():
		s.removeAck(p.ID)
		return nil, ctx.Err()
	}
}

// Join adds the socket to rooms. Called from middleware, before the
// socket connected, it takes effect when the socket connects (as in
// socket.io's io.use), right after the socket's own ID room.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateConnected:
		s.nsp.adapter.AddAll(s, rooms...)
		s.changed()
	case statePending:
		for _, room := range rooms {
			if !slices.Contains(s.joinPending, room) {
				s.joinPending = append(s.joinPending, room)
			}
		}
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateConnected:
		s.nsp.adapter.Del(s, room)
		s.changed()
	case statePending:
		if i := slices.Index(s.joinPending, room); i >= 0 {
			s.joinPending = slices.Delete(s.joinPending, i, i+1)
		}
	}
}

// Rooms lists the rooms of the socket, its own ID room included.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s) }

// To returns an operator that broadcasts to rooms, to every socket but this one.
func (s *Socket) To(rooms ...string) BroadcastOperator { return s.Broadcast().To(rooms...) }

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except returns an operator that broadcasts to every socket but this one
// and the members of rooms.
func (s *Socket) Except(rooms ...string) BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast returns an operator that broadcasts to every socket of the
// namespace but this one.
func (s *Socket) Broadcast() BroadcastOperator { return s.nsp.Except(s.id) }

// Disconnect disconnects the socket from its namespace (the client gets a
// DISCONNECT packet; reason "server namespace disconnect"). With close, the
// whole Engine.IO connection is closed too, after disconnecting every socket
// it carries.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.disconnect()
		return
	}
	s.close(ReasonServerDisconnect, true)
}

// send writes one packet of this socket's namespace.
func (s *Socket) send(p *socketio.Packet, volatile bool) error { return s.sendElems(p, nil, volatile) }

// sendElems is send with p.Data replaced by the array of elems when elems
// is not nil (see encodeFramesElems and sendPacket).
func (s *Socket) sendElems(p *socketio.Packet, elems [][]byte, volatile bool) error {
	s.mu.Lock()
	st := s.state
	s.mu.Unlock()
	if st != stateConnected {
		return ErrDisconnected
	}
	p.Namespace = s.nsp.name
	s.nsp.srv.stats.packetsOut.Add(1)
	return sendPacket(s.client.conn, p, elems, volatile)
}

// addAck registers the ack id; it fails with ErrDisconnected on a closed
// socket and with ErrTooManyAcks at Config.MaxAcks.
func (s *Socket) addAck(id uint64, f func(*socketio.Packet)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return ErrDisconnected
	}
	if limit := s.nsp.srv.cfg.MaxAcks; limit > 0 && len(s.acks) >= limit {
		s.nsp.srv.stats.acksRefused.Add(1)
		return ErrTooManyAcks
	}
	if s.acks == nil {
		s.acks = make(map[uint64]func(*socketio.Packet))
	}
	s.acks[id] = f
	s.nsp.srv.stats.acksPending.Add(1)
	return nil
}

// allowPacket applies Config.EventRate to one received packet, on the
// connection's read path. Over the rate the packet is dropped; a client that
// keeps sending over it (drops less than a second apart) for RateLimitGrace
// is disconnected with ReasonRateLimited.
func (s *Socket) allowPacket() bool {
	r := s.rate
	if r == nil {
		return true
	}
	now := time.Now()
	if r.limiter.AllowN(now, 1) {
		return true
	}
	srv := s.nsp.srv
	srv.stats.eventsDropped.Add(1)
	if r.overSince.IsZero() || now.Sub(r.lastDrop) > time.Second {
		r.overSince = now
		srv.log.Debug("session: dropping packets over the event rate", "sid", s.client.conn.ID(), "socket", s.id, "nsp", s.nsp.name)
	}
	r.lastDrop = now
	if now.Sub(r.overSince) >= RateLimitGrace {
		r.overSince = time.Time{}
		srv.stats.rateLimited.Add(1)
		srv.badLog.Log(ReasonRateLimited, "session: disconnecting sockets that stay over the event rate")
		s.close(ReasonRateLimited, true)
		// A client left with no socket would keep its connection (and
		// could keep sending) after the DISCONNECT: close it too, as
		// the official client does itself.
		if !s.client.hasSockets() {
			s.client.conn.Close(ReasonForcedServerClose)
		}
	}
	return false
}

func (s *Socket) removeAck(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.acks[id]; ok {
		delete(s.acks, id)
		s.nsp.srv.stats.acksPending.Add(-1)
	}
}

// onAck runs on the connection's read path: acks are answered even while
// the socket's handlers are busy (so EmitWithAck works inside a handler).
func (s *Socket) onAck(p *socketio.Packet) {
	s.mu.Lock()
	f, ok := s.acks[p.ID]
	if ok {
		delete(s.acks, p.ID)
		s.nsp.srv.stats.acksPending.Add(-1)
	}
	s.mu.Unlock()
	if ok {
		f(p)
	}
}

// close disconnects the socket once; notify sends the client a DISCONNECT.
func (s *Socket) close(reason string, notify bool) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	wasConnected := s.state == stateConnected
	s.state = stateClosed
	acks := s.acks
	s.acks = nil
	var sess adapter.Session
	if wasConnected {
		if s.rec != nil {
			sess = s.sessionLocked()
		}
		s.nsp.adapter.DelAll(s)
	}
	s.mu.Unlock()
	if wasConnected && s.rec != nil {
		s.recoveryClosed(reason, sess)
	}

	srv := s.nsp.srv
	srv.stats.acksPending.Add(-int64(len(acks)))
	if notify && wasConnected {
		srv.stats.packetsOut.Add(1)
		s.client.conn.Send(encodeFrames(&socketio.Packet{Type: socketio.Disconnect, Namespace: s.nsp.name}), false)
	}
	s.client.remove(s)
	for _, f := range acks {
		f(nil)
	}
	if wasConnected {
		srv.stats.sockets.Add(-1)
		s.enqueue(&job{kind: jobDisconnect, reason: reason})
	}
}

// enqueueEvent queues a received event for the socket's handlers (or runs
// them at once, with Config.InlineHandlers). p is only read: the job copies
// what it needs.
func (s *Socket) enqueueEvent(p *socketio.Packet, elems [][]byte) {
	if s.nsp.srv.cfg.InlineHandlers && s.runInline(p, elems) {
		return
	}
	j := eventJob(p, elems)
	if !s.enqueue(j) {
		j.release()
		srv := s.nsp.srv
		srv.stats.outrun.Add(1)
		srv.log.Debug("session: disconnecting a socket whose client outruns its handlers",
			"sid", s.client.conn.ID(), "socket", s.id, "nsp", s.nsp.name)
		srv.badLog.Log("outrun", "session: disconnecting sockets whose clients outrun their handlers")
		s.close(ReasonServerDisconnect, true)
	}
}

// enqueue adds a job to the socket's serial queue and starts its drainer
// goroutine if none runs. It refuses events beyond MaxPendingEvents or
// MaxPendingBytes (the caller still has the job then).
func (s *Socket) enqueue(j *job) bool {
	srv := s.nsp.srv
	n := j.size()
	s.mu.Lock()
	if j.kind == jobEvent && (s.queueLen >= srv.cfg.MaxPendingEvents ||
		s.queueLen > 0 && s.queuedBytes+n > srv.cfg.MaxPendingBytes) {
		s.mu.Unlock()
		return false
	}
	s.queuedBytes += n
	if s.tail == nil {
		s.head = j
	} else {
		s.tail.next = j
	}
	s.tail = j
	s.queueLen++
	start := !s.running
	s.running = true
	if start && s.drainFn == nil {
		// The drainer starts often: with a func value built once, on the
		// first queued job (an idle socket has none).
		s.drainFn = func() {
			defer srv.wg.Done()
			s.drain()
		}
	}
	fn := s.drainFn
	s.mu.Unlock()
	if start && !srv.goDrain(fn) {
		// Shutdown has stopped waiting for new work: drop the queue.
		s.mu.Lock()
		s.running = false
		s.head, s.tail, s.queueLen, s.queuedBytes = nil, nil, 0, 0
		s.mu.Unlock()
	}
	return true
}

// runInline runs the handlers of p on the caller's goroutine (the
// connection's read path) when nothing is queued and no drainer runs, then
// drains what was queued meanwhile. It returns false, doing nothing, when p
// must wait its turn.
func (s *Socket) runInline(p *socketio.Packet, elems [][]byte) bool {
	s.mu.Lock()
	if s.running || s.head != nil {
		s.mu.Unlock()
		return false
	}
	s.running = true
	s.mu.Unlock()
	s.dispatch(eventJob(p, elems))
	s.drain()
	return true
}

// drain runs the queued jobs in order and exits when the queue is empty, so
// an idle socket has no goroutine.
func (s *Socket) drain() {
	for {
		s.mu.Lock()
		j := s.head
		if j == nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.head = j.next
		if s.head == nil {
			s.tail = nil
		}
		j.next = nil
		s.queueLen--
		s.queuedBytes -= j.size()
		s.mu.Unlock()
		switch j.kind {
		case jobConnect:
			s.nsp.connect(s)
		case jobEvent:
			s.dispatch(j)
		case jobDisconnect:
			s.mu.Lock()
			hs := s.onDisconnect
			s.onDisconnect = nil
			s.mu.Unlock()
			for _, h := range hs {
				s.safely("disconnect handler", func() { h(s, j.reason) })
			}
		}
	}
}

// dispatch runs the handler of the event job j. The job goes with the
// Event to a handler that owns it, and back to jobPool after one that
// borrows it.
func (s *Socket) dispatch(j *job) {
	ev := &j.ev
	raw := j.rawName
	if raw == nil { // a binary event: split now
		var err error
		raw, ev.args, err = socketio.SplitEventTo(ev.elems[:0], ev.Data)
		if err != nil { // the Decoder validated it; be safe anyway
			j.release()
			return
		}
	}
	name := s.nsp.srv.eventName(raw)
	s.mu.Lock()
	e, ok := s.handlers[name]
	if !ok {
		e = s.anyHandler
	}
	s.mu.Unlock()
	if e.h == nil {
		j.release()
		return
	}
	ev.Name, ev.socket = name, s
	h := e.h
	s.safely("event handler", func() { h(s, ev) })
	if e.borrowed {
		j.release()
	}
}

// safely runs user code; a panic is logged and disconnects this socket only.
func (s *Socket) safely(what string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			srv := s.nsp.srv
			srv.stats.handlerPanics.Add(1)
			srv.log.Error("session: panic in "+what, "socket", s.id, "nsp", s.nsp.name, "panic", r, "stack", string(debug.Stack()))
			s.close(ReasonServerDisconnect, true)
		}
	}()
	f()
	return true
}

// info describes the socket for FetchSockets (the adapter adds the rooms).
func (s *Socket) info() adapter.SocketInfo {
	data := json.RawMessage("null")
	if v := s.Data(); v != nil {
		if b, err := json.Marshal(v); err == nil {
			data = b
		}
	}
	return adapter.SocketInfo{ID: s.id, Handshake: s.Handshake().Info(), Data: data, User: s.User()}
}

// User returns the user set by SetUser ("" if none).
func (s *Socket) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// SetUser records which authenticated user the socket belongs to (an
// authentication middleware sets it); FetchSockets reports it.
func (s *Socket) SetUser(user string) {
	s.mu.Lock()
	s.user = user
	s.mu.Unlock()
}

// Value returns the value SetValue stored under key, or nil.
func (s *Socket) Value(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[key]
}

// SetValue stores a value under key for the socket's lifetime, for
// middleware to hand state to handlers (JWT claims, say). As with
// context.WithValue, use a key type of your own package. Values stay on
// this node: FetchSockets reports Data and User only.
func (s *Socket) SetValue(key, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[any]any)
	}
	s.values[key] = v
}

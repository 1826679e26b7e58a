package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// PersistMode says when a socket's recovery session is stored.
type PersistMode string

const (
	// PersistOnClose stores the session when the connection is lost, as
	// socket.io does. A node that crashes stores nothing. The default.
	PersistOnClose PersistMode = "close"
	// PersistEager also stores it when the socket connects and again when
	// its rooms or data change (coalesced), refreshing its expiry at half
	// MaxDisconnection, so that the clients of a node that dies recover on
	// another one.
	PersistEager PersistMode = "eager"
)

// RecoveryConfig configures connection state recovery (socket.io 4.6+): a
// client that loses its connection and comes back within MaxDisconnection
// gets its socket ID, rooms and data back, and the broadcasts it missed.
// The adapter must implement adapter.Recoverer (the memory adapter and the
// Redis streams adapter do).
type RecoveryConfig struct {
	// MaxDisconnection enables recovery: how long a disconnected socket's
	// session and missed packets are kept (socket.io's
	// maxDisconnectionDuration). Default 0: recovery off.
	MaxDisconnection time.Duration
	// RunMiddlewares runs the namespace's middleware for recovered sockets
	// too. Default false: they skip it, as socket.io's skipMiddlewares
	// (default true) does.
	RunMiddlewares bool
	// Persist is PersistOnClose (default) or PersistEager.
	Persist PersistMode
	// EagerFlush is how long the eager store coalesces changes before
	// writing them. Default 1s, at most MaxDisconnection/4.
	EagerFlush time.Duration
	// HistoryPackets and HistoryBytes bound the memory adapter's history
	// per namespace (see adapter.RecoveryConfig). Defaults 10,000 and 16 MiB.
	HistoryPackets int
	HistoryBytes   int
}

const (
	defaultEagerFlush   = time.Second
	restoreTimeout      = 5 * time.Second
	maxRecoveryIDLength = 256
	handoverWorkers     = 64
	recoveryWarnEvery   = time.Minute
	// maxHeldBytes bounds the live deliveries held while a recovered
	// socket gets its missed packets.
	maxHeldBytes = 4 << 20
)

func (c *RecoveryConfig) validate() error {
	if c.MaxDisconnection < 0 {
		return errors.New("session: Recovery.MaxDisconnection is negative")
	}
	switch c.Persist {
	case "":
		c.Persist = PersistOnClose
	case PersistOnClose, PersistEager:
	default:
		return fmt.Errorf("session: Recovery.Persist %q: want %q or %q", c.Persist, PersistOnClose, PersistEager)
	}
	if c.EagerFlush <= 0 {
		c.EagerFlush = defaultEagerFlush
	}
	return nil
}

func (c *RecoveryConfig) adapterConfig() adapter.RecoveryConfig {
	return adapter.RecoveryConfig{
		MaxDisconnection: c.MaxDisconnection,
		HistoryPackets:   c.HistoryPackets,
		HistoryBytes:     c.HistoryBytes,
	}
}

// Recovery outcomes, the reasons of RecoveryStats.Outcomes.
const (
	RecoveryRecovered      = "recovered"
	RecoveryUnknownSession = "unknown_session"
	RecoveryOffsetTrimmed  = "offset_trimmed"
	RecoveryExpired        = "expired"
	RecoveryInvalid        = "invalid"
	RecoveryError          = "error" // the store failed (Redis unreachable)
)

var recoveryReasons = [...]string{RecoveryRecovered, RecoveryUnknownSession, RecoveryOffsetTrimmed,
	RecoveryExpired, RecoveryInvalid, RecoveryError}

// RecoveryStats is a snapshot of the recovery counters.
type RecoveryStats struct {
	Enabled  bool
	Attempts uint64            // CONNECTs with a pid and an offset
	Outcomes map[string]uint64 // by reason (RecoveryRecovered, ...)
	Stored   uint64            // sessions written to the store
	Replayed uint64            // missed packets sent to recovered sockets
}

type recoveryCounters struct {
	attempts, stored, replayed atomic.Uint64
	outcomes                   [len(recoveryReasons)]atomic.Uint64
	lastWarn                   atomic.Int64 // unix ns of the last store failure logged
}

// warnStore logs a failure of the session store at most once per
// recoveryWarnEvery (a Redis outage fails every attempt).
func (s *Server) warnStore(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.recStats.lastWarn.Load()
	if now-last < int64(recoveryWarnEvery) || !s.recStats.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn(msg, args...)
}

func (c *recoveryCounters) outcome(reason string) {
	for i, r := range recoveryReasons {
		if r == reason {
			c.outcomes[i].Add(1)
			return
		}
	}
}

// RecoveryStats returns a snapshot of the recovery counters.
func (s *Server) RecoveryStats() RecoveryStats {
	c := &s.recStats
	st := RecoveryStats{
		Enabled:  s.cfg.Recovery.MaxDisconnection > 0,
		Attempts: c.attempts.Load(),
		Stored:   c.stored.Load(),
		Replayed: c.replayed.Load(),
		Outcomes: make(map[string]uint64, len(recoveryReasons)),
	}
	for i, r := range recoveryReasons {
		st.Outcomes[r] = c.outcomes[i].Load()
	}
	return st
}

func (s *Server) recoveryOn() bool { return s.cfg.Recovery.MaxDisconnection > 0 }

// enableRecovery is called for each new namespace.
func (s *Server) enableRecovery(name string, an adapter.Namespace) error {
	if !s.recoveryOn() {
		return nil
	}
	r, ok := an.(adapter.Recoverer)
	if !ok {
		return fmt.Errorf("session: namespace %s: the adapter does not support connection state recovery", name)
	}
	return r.EnableRecovery(s.cfg.Recovery.adapterConfig())
}

// recoverableReason reports the disconnect reasons after which socket.io
// stores a session.
func recoverableReason(reason string) bool {
	switch reason {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout,
		ReasonServerShuttingDown, ReasonForcedServerClose:
		return true
	}
	return false
}

// socketRecovery is the recovery state of one socket (nil when recovery is
// off).
type socketRecovery struct {
	pid       string
	offset    string // the client's offset, while restoring
	recovered bool   // set before the socket connects

	// restoring holds live deliveries while a recovered socket gets its
	// missed packets, so that nothing overtakes them and nothing is lost
	// between the history and live delivery. mu guards held only; the close
	// path never takes it, so Conn calls under it cannot deadlock.
	restoring atomic.Bool
	mu        sync.Mutex
	held      []heldFrames
	heldBytes int
	overflow  bool // held more than maxHeldBytes: the rest was dropped

	stored atomic.Bool // handed over: the transport's close stores nothing more
}

type heldFrames struct {
	frames   []engineio.Frame
	volatile bool
	pkt      *socketio.Packet // for its offset
}

// PID returns the socket's private session ID ("" when recovery is off),
// which its client sends back to recover the session.
func (s *Socket) PID() string {
	if s.rec == nil {
		return ""
	}
	return s.rec.pid
}

// Recovered reports whether the socket is a recovered session: same ID,
// rooms and data as before the client's disconnection, missed packets sent.
func (s *Socket) Recovered() bool { return s.rec != nil && s.rec.recovered }

// deliver writes broadcast frames to the socket, or holds them while it
// restores.
func (s *Socket) deliver(frames []engineio.Frame, volatile bool, pkt *socketio.Packet) {
	if r := s.rec; r != nil && r.restoring.Load() {
		r.mu.Lock()
		if r.restoring.Load() {
			n := 0
			for _, f := range frames {
				n += len(f.Data)
			}
			if r.heldBytes+n > maxHeldBytes {
				r.overflow = true
			} else {
				r.held = append(r.held, heldFrames{frames, volatile, pkt})
				r.heldBytes += n
			}
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
	s.client.conn.Enqueue(frames, volatile)
}

// recoveryAuth reads pid and offset from a CONNECT payload.
func recoveryAuth(auth json.RawMessage) (pid, offset string, ok bool) {
	if len(auth) == 0 || auth[0] != '{' {
		return "", "", false
	}
	var a struct {
		PID    any `json:"pid"`
		Offset any `json:"offset"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return "", "", false
	}
	pid, ok1 := a.PID.(string)
	offset, ok2 := a.Offset.(string)
	return pid, offset, ok1 && ok2
}

// restore tries to recover s's previous session; it runs on the socket's
// goroutine before the middleware. On success s has its old ID, pid and
// data, and is marked restoring.
func (n *Namespace) restore(s *Socket) (rooms []string, ok bool) {
	srv := n.srv
	pid, offset, has := recoveryAuth(s.auth)
	if !has {
		return nil, false
	}
	c := &srv.recStats
	c.attempts.Add(1)
	if pid == "" || offset == "" || len(pid) > maxRecoveryIDLength || len(offset) > maxRecoveryIDLength {
		c.outcome(RecoveryInvalid)
		return nil, false
	}
	r := n.adapter.(adapter.Recoverer)
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	sess, err := r.RestoreSession(ctx, pid, offset)
	if err != nil {
		reason := RecoveryError
		switch {
		case errors.Is(err, adapter.ErrUnknownSession):
			reason = RecoveryUnknownSession
		case errors.Is(err, adapter.ErrSessionExpired):
			reason = RecoveryExpired
		case errors.Is(err, adapter.ErrOffsetTrimmed):
			reason = RecoveryOffsetTrimmed
		case errors.Is(err, adapter.ErrInvalidSession):
			reason = RecoveryInvalid
		default:
			srv.warnStore("session: restoring a session failed (logged once a minute)", "nsp", n.name, "err", err)
		}
		c.outcome(reason)
		return nil, false
	}
	if sess.SID == "" || len(sess.SID) > maxRecoveryIDLength {
		c.outcome(RecoveryInvalid)
		return nil, false
	}
	c.outcome(RecoveryRecovered)
	s.mu.Lock()
	s.id = sess.SID
	s.data = sess.Data
	s.mu.Unlock()
	s.rec.pid = sess.PID
	s.rec.offset = offset
	s.rec.recovered = true
	s.rec.restoring.Store(true)
	return sess.Rooms, true
}

// replay runs once a recovered socket is in its rooms: it sends the missed
// packets, then what live delivery held meanwhile (minus what the history
// already had), and lets live delivery through.
func (n *Namespace) replay(s *Socket) {
	r := s.rec
	rooms := n.adapter.SocketRooms(s)
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	missed, err := n.adapter.(adapter.Recoverer).MissedPackets(ctx, r.offset, rooms)
	cancel()
	if err != nil {
		n.srv.warnStore("session: reading missed packets failed (logged once a minute)", "nsp", n.name, "socket", s.id, "err", err)
	}
	seen := make(map[string]struct{}, len(missed))
	var out uint64
	for _, p := range missed {
		seen[adapter.LastOffset(p.Data)] = struct{}{}
		q := *p
		q.Namespace = n.name
		s.client.conn.Enqueue(encodeFrames(&q), false)
		out++
	}
	n.srv.recStats.replayed.Add(out)
	r.mu.Lock()
	for _, h := range r.held {
		if len(seen) > 0 && h.pkt != nil {
			if _, dup := seen[adapter.LastOffset(h.pkt.Data)]; dup {
				continue
			}
		}
		s.client.conn.Enqueue(h.frames, h.volatile)
		out++
	}
	r.held, r.heldBytes = nil, 0
	r.restoring.Store(false)
	overflow := r.overflow
	r.mu.Unlock()
	n.srv.stats.packetsOut.Add(out)
	if overflow {
		// Live delivery outran the replay: close the connection rather
		// than leave a gap. The session is stored again on close, so the
		// client recovers what was dropped from the history.
		n.srv.log.Warn("session: closing a recovering socket whose held packets overflowed", "nsp", n.name, "socket", s.id)
		s.client.conn.Close(ReasonForcedServerClose)
	}
}

// session returns the recovery session of a connected socket; the caller
// holds s.mu.
func (s *Socket) sessionLocked() adapter.Session {
	return adapter.Session{SID: s.id, PID: s.rec.pid, Rooms: s.nsp.adapter.SocketRooms(s), Data: s.data}
}

// persist stores a session through the namespace's adapter.
func (n *Namespace) persist(ctx context.Context, sess adapter.Session) {
	if err := n.adapter.(adapter.Recoverer).PersistSession(ctx, sess); err != nil {
		n.srv.warnStore("session: storing a recovery session failed (logged once a minute)", "nsp", n.name, "socket", sess.SID, "err", err)
		return
	}
	n.srv.recStats.stored.Add(1)
}

// closed is called by Socket.close for a socket that was connected, with
// its session taken before it left its rooms.
func (s *Socket) recoveryClosed(reason string, sess adapter.Session) {
	n := s.nsp
	srv := n.srv
	if srv.eager != nil {
		srv.eager.forget(s)
	}
	if s.rec.stored.Load() {
		return // handed over
	}
	if !recoverableReason(reason) {
		if srv.eager != nil {
			srv.goWork(func() {
				ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
				defer cancel()
				n.adapter.(adapter.Recoverer).DeleteSession(ctx, sess.PID)
			})
		}
		return
	}
	srv.goWork(func() {
		ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
		defer cancel()
		n.persist(ctx, sess)
	})
}

// handOver stores the sessions of the connected sockets of clients before
// their transports close, waiting for the store (or ctx): the step a drain
// takes so that the clients recover on another node with nothing missed.
func (s *Server) handOver(ctx context.Context, clients []*client) {
	if !s.recoveryOn() {
		return
	}
	type item struct {
		n    *Namespace
		sess adapter.Session
	}
	var items []item
	for _, c := range clients {
		c.mu.Lock()
		socks := append([]*Socket(nil), c.sockets...)
		c.mu.Unlock()
		for _, sock := range socks {
			sock.mu.Lock()
			if sock.state == stateConnected && sock.rec.stored.CompareAndSwap(false, true) {
				items = append(items, item{sock.nsp, sock.sessionLocked()})
			}
			sock.mu.Unlock()
		}
	}
	if len(items) == 0 {
		return
	}
	work := make(chan item)
	var wg sync.WaitGroup
	for range min(handoverWorkers, len(items)) {
		wg.Go(func() {
			for it := range work {
				it.n.persist(ctx, it.sess)
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
}

package adapter

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// history is the memory adapter's recovery state of one namespace: a ring
// of the broadcasts of the last MaxDisconnection (bounded by count and
// bytes) and the sessions of the sockets that disconnected meanwhile.
// Nothing runs in the background: expired entries go when the next one is
// added.
type history struct {
	cfg    RecoveryConfig
	prefix string // random, so that offsets of another process never match
	now    func() time.Time

	mu       sync.Mutex
	ring     []histEntry // oldest first; ring[i].seq == first+i
	first    uint64      // seq of ring[0] (next seq when empty)
	bytes    int
	sessions map[string]storedSession
	order    []pidAt // sessions in store order, for expiry
}

type histEntry struct {
	seq  uint64
	at   time.Time
	pkt  socketio.Packet // offset appended
	opts Options
	size int
}

type storedSession struct {
	s  Session
	at time.Time
}

type pidAt struct {
	pid string
	at  time.Time
}

func newHistory(cfg RecoveryConfig) (*history, error) {
	if cfg.MaxDisconnection <= 0 {
		return nil, errors.New("adapter: recovery needs a positive MaxDisconnection")
	}
	if cfg.HistoryPackets <= 0 {
		cfg.HistoryPackets = DefaultHistoryPackets
	}
	if cfg.HistoryBytes <= 0 {
		cfg.HistoryBytes = DefaultHistoryBytes
	}
	var b [6]byte
	rand.Read(b[:])
	return &history{
		cfg:      cfg,
		prefix:   base64.RawURLEncoding.EncodeToString(b[:]),
		now:      time.Now,
		first:    1,
		sessions: make(map[string]storedSession),
	}, nil
}

func (h *history) offset(seq uint64) string {
	return h.prefix + "." + strconv.FormatUint(seq, 36)
}

// parse returns the seq of one of our offsets.
func (h *history) parse(offset string) (uint64, bool) {
	p, s, ok := strings.Cut(offset, ".")
	if !ok || p != h.prefix {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 36, 64)
	return seq, err == nil
}

// add stores a broadcast and returns the packet to deliver, with its offset.
func (h *history) add(pkt *socketio.Packet, opts Options) *socketio.Packet {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.first + uint64(len(h.ring))
	p := WithOffset(pkt, h.offset(seq))
	if len(p.Attachments) > 0 { // kept in the history: not the caller's buffers
		p.Attachments = ClonePacket(&socketio.Packet{Attachments: p.Attachments}).Attachments
	}
	size := len(p.Data) + len(p.Namespace) + 64
	for _, a := range p.Attachments {
		size += len(a)
	}
	opts.Rooms = append([]string(nil), opts.Rooms...)
	opts.Except = append([]string(nil), opts.Except...)
	h.ring = append(h.ring, histEntry{seq: seq, at: now, pkt: *p, opts: opts, size: size})
	h.bytes += size
	h.trimLocked(now)
	return p
}

// trimLocked drops the oldest entries beyond the bounds or the age.
func (h *history) trimLocked(now time.Time) {
	drop := 0
	for drop < len(h.ring) {
		e := &h.ring[drop]
		if len(h.ring)-drop <= h.cfg.HistoryPackets && h.bytes <= h.cfg.HistoryBytes &&
			now.Sub(e.at) <= h.cfg.MaxDisconnection {
			break
		}
		h.bytes -= e.size
		drop++
	}
	if drop == 0 {
		return
	}
	clear(h.ring[:drop])
	h.ring = h.ring[drop:]
	h.first += uint64(drop)
	if cap(h.ring) > 2*len(h.ring)+64 { // let a shrunken ring go
		h.ring = append([]histEntry(nil), h.ring...)
	}
}

func (h *history) expireLocked(now time.Time) {
	i := 0
	for ; i < len(h.order); i++ {
		o := h.order[i]
		if now.Sub(o.at) <= h.cfg.MaxDisconnection {
			break
		}
		if s, ok := h.sessions[o.pid]; ok && s.at.Equal(o.at) {
			delete(h.sessions, o.pid)
		}
	}
	h.order = h.order[i:]
}

func (h *history) persist(s Session) {
	now := h.now()
	s.Rooms = append([]string(nil), s.Rooms...)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(now)
	h.sessions[s.PID] = storedSession{s: s, at: now}
	h.order = append(h.order, pidAt{s.PID, now})
}

func (h *history) delete(pid string) {
	h.mu.Lock()
	delete(h.sessions, pid)
	h.mu.Unlock()
}

func (h *history) restore(pid, offset string) (*Session, error) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.sessions[pid]
	if !ok {
		h.expireLocked(now)
		return nil, ErrUnknownSession
	}
	delete(h.sessions, pid)
	if now.Sub(st.at) > h.cfg.MaxDisconnection {
		return nil, ErrSessionExpired
	}
	seq, ok := h.parse(offset)
	if !ok {
		return nil, fmt.Errorf("%w: offset %q", ErrInvalidSession, offset)
	}
	h.trimLocked(now)
	if seq < h.first || seq >= h.first+uint64(len(h.ring)) {
		return nil, ErrOffsetTrimmed
	}
	s := st.s
	return &s, nil
}

func (h *history) missed(offset string, rooms []string) ([]*socketio.Packet, error) {
	seq, ok := h.parse(offset)
	if !ok {
		return nil, fmt.Errorf("%w: offset %q", ErrInvalidSession, offset)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq+1 < h.first {
		return nil, ErrOffsetTrimmed
	}
	var out []*socketio.Packet
	for i := int(max(seq+1, h.first) - h.first); i < len(h.ring); i++ {
		e := &h.ring[i]
		if ShouldReplay(rooms, e.opts) {
			p := e.pkt
			out = append(out, &p)
		}
	}
	return out, nil
}

// --- Recoverer of the memory adapter ---

var _ Recoverer = (*memoryNamespace)(nil)

func (n *memoryNamespace) EnableRecovery(cfg RecoveryConfig) error {
	h, err := newHistory(cfg)
	if err != nil {
		return err
	}
	n.hist.Store(h)
	return nil
}

func (n *memoryNamespace) history() (*history, error) {
	if err := n.err(); err != nil {
		return nil, err
	}
	h := n.hist.Load()
	if h == nil {
		return nil, errors.New("adapter: recovery is not enabled")
	}
	return h, nil
}

func (n *memoryNamespace) PersistSession(_ context.Context, s Session) error {
	h, err := n.history()
	if err != nil {
		return err
	}
	h.persist(s)
	return nil
}

func (n *memoryNamespace) DeleteSession(_ context.Context, pid string) error {
	h, err := n.history()
	if err != nil {
		return err
	}
	h.delete(pid)
	return nil
}

func (n *memoryNamespace) RestoreSession(_ context.Context, pid, offset string) (*Session, error) {
	h, err := n.history()
	if err != nil {
		return nil, err
	}
	return h.restore(pid, offset)
}

func (n *memoryNamespace) MissedPackets(_ context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	h, err := n.history()
	if err != nil {
		return nil, err
	}
	return h.missed(offset, rooms)
}

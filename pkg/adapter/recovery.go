package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Connection state recovery (socket.io 4.6+): a socket that loses its
// connection keeps its ID, rooms and data for a while, and the broadcasts it
// missed are replayed when its client comes back with the session ID (pid)
// and the offset of the last packet it received.

// RecoveryConfig is what a Recoverer needs to know, given by the session
// layer when it enables recovery on a namespace.
type RecoveryConfig struct {
	// MaxDisconnection is how long a session and the packets it may miss are
	// kept (socket.io's maxDisconnectionDuration). Must be positive.
	MaxDisconnection time.Duration
	// HistoryPackets and HistoryBytes bound the packets an in-memory history
	// keeps per namespace (older ones are dropped first; a client whose
	// offset was dropped connects as a new socket). Defaults 10,000 packets
	// and 16 MiB. Adapters that keep the history elsewhere (a Redis stream)
	// have bounds of their own.
	HistoryPackets int
	HistoryBytes   int
}

// Default history bounds of the memory adapter.
const (
	DefaultHistoryPackets = 10_000
	DefaultHistoryBytes   = 16 << 20
)

// Session is the state of a socket kept for its recovery.
type Session struct {
	SID   string   // the socket ID
	PID   string   // the private session ID the client sends back
	Rooms []string // the socket's rooms, its ID room included
	// Data is the socket's data: any JSON-marshalable value. An adapter that
	// stores sessions outside the process returns it as json.RawMessage.
	Data any
}

// Recoverer is implemented by namespaces of adapters that support
// connection state recovery (the memory adapter, the Redis streams adapter).
// Once EnableRecovery has been called, Broadcast appends the offset of every
// stored packet to its data as a last argument, a JSON string, as socket.io
// does: non-volatile events without an ack id. All methods may be called
// concurrently.
type Recoverer interface {
	// EnableRecovery turns on the history. The session layer calls it once,
	// right after Namespace, before any broadcast.
	EnableRecovery(cfg RecoveryConfig) error
	// PersistSession stores a session for cfg.MaxDisconnection. It may wait
	// for a round trip to a store.
	PersistSession(ctx context.Context, s Session) error
	// DeleteSession forgets a stored session (a clean disconnect after an
	// eager store). Unknown pids are not an error.
	DeleteSession(ctx context.Context, pid string) error
	// RestoreSession takes the session pid out of the store (it can be
	// restored once) after checking that offset is still in the history.
	// Errors wrap ErrUnknownSession, ErrSessionExpired, ErrOffsetTrimmed or
	// ErrInvalidSession.
	RestoreSession(ctx context.Context, pid, offset string) (*Session, error)
	// MissedPackets returns the packets stored after offset that a socket in
	// rooms would have received, oldest first, each with its offset
	// appended. The session layer calls it after the restored socket has
	// joined its rooms, so nothing falls between the history and live
	// delivery.
	MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error)
}

// Restore outcomes.
var (
	ErrUnknownSession = errors.New("adapter: unknown session")
	ErrSessionExpired = errors.New("adapter: session expired")
	ErrOffsetTrimmed  = errors.New("adapter: offset no longer in the history")
	ErrInvalidSession = errors.New("adapter: invalid session or offset")
)

// Stored reports whether a broadcast with opts is kept in the history, as
// socket.io decides: not volatile. (Broadcasts with acks never are.)
func Stored(pkt *socketio.Packet, opts Options) bool {
	return !opts.Flags.Volatile && !pkt.HasID &&
		(pkt.Type == socketio.Event || pkt.Type == socketio.BinaryEvent)
}

// WithOffset returns a copy of pkt whose data has offset appended as a last
// argument. pkt.Data must be a JSON array. The attachments are shared.
func WithOffset(pkt *socketio.Packet, offset string) *socketio.Packet {
	p := *pkt
	p.Data = AppendOffset(make([]byte, 0, len(pkt.Data)+len(offset)+3), pkt.Data, offset)
	return &p
}

// ClonePacket returns a deep copy of pkt (data and attachments), for an
// adapter that keeps a broadcast past the call that handed it over.
func ClonePacket(pkt *socketio.Packet) *socketio.Packet {
	p := *pkt
	p.Data = append([]byte(nil), pkt.Data...)
	if len(pkt.Attachments) > 0 {
		p.Attachments = make([][]byte, len(pkt.Attachments))
		for i, a := range pkt.Attachments {
			p.Attachments[i] = append([]byte(nil), a...)
		}
	}
	return &p
}

// AppendOffset appends to dst the JSON array data with the string offset
// added as its last element.
func AppendOffset(dst, data []byte, offset string) []byte {
	end := len(data)
	for end > 0 && isSpace(data[end-1]) {
		end--
	}
	if end == 0 || data[end-1] != ']' {
		return append(dst, data...) // not an array: the caller's packet is malformed
	}
	body := data[:end-1]
	dst = append(dst, body...)
	// An empty array gets no comma.
	i := len(body) - 1
	for i >= 0 && isSpace(body[i]) {
		i--
	}
	if i >= 0 && body[i] != '[' {
		dst = append(dst, ',')
	}
	dst = socketio.AppendString(dst, offset)
	return append(dst, ']')
}

// LastOffset returns the string last element of an event's data, the offset
// WithOffset appended ("" if there is none).
func LastOffset(data []byte) string {
	elems, err := socketio.SplitArray(data)
	if err != nil || len(elems) < 2 {
		return ""
	}
	last := elems[len(elems)-1]
	if len(last) < 2 || last[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(last, &s) != nil {
		return ""
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ShouldReplay reports whether a socket in rooms would have received a
// broadcast with opts, as socket.io decides when it replays missed packets:
// in one of opts.Rooms (or opts.Rooms empty) and in none of opts.Except.
func ShouldReplay(rooms []string, opts Options) bool {
	included := len(opts.Rooms) == 0
	for _, r := range rooms {
		if slices.Contains(opts.Except, r) {
			return false
		}
		if !included && slices.Contains(opts.Rooms, r) {
			included = true
		}
	}
	return included
}

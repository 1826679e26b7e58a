package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Socket is a socket of this node as an adapter sees it. The session layer's
// socket type implements it; adapters key their room index by it.
type Socket interface {
	ID() string
}

// Flags modify a broadcast.
type Flags struct {
	// Volatile packets are dropped for clients that cannot take them right now.
	Volatile bool
	// Local broadcasts reach this node's sockets only; they are never published.
	Local bool
	// Timeout is the requester's deadline for a broadcast with acks
	// (published as flags.timeout in milliseconds; receivers ignore it).
	Timeout time.Duration
}

// Options select the recipients of a broadcast or cluster operation.
//
// With no Rooms every socket of the namespace is selected, otherwise the union
// of the members of Rooms (each socket once). Sockets in any Except room are
// then removed. Every socket is in the room named after its ID.
type Options struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// Handshake is the handshake of a socket as Node's socket.io reports it
// (the JSON field names match, so remote nodes of either kind can read it).
type Handshake struct {
	Headers map[string]string `json:"headers"`
	Time    string            `json:"time"`
	Address string            `json:"address"`
	XDomain bool              `json:"xdomain"`
	Secure  bool              `json:"secure"`
	Issued  int64             `json:"issued"` // ms since the Unix epoch
	URL     string            `json:"url"`
	Query   map[string]string `json:"query"`
	Auth    json.RawMessage   `json:"auth"`
}

// SocketInfo describes a socket, local or remote, as FetchSockets returns it.
type SocketInfo struct {
	ID        string          `json:"id"`
	Handshake Handshake       `json:"handshake"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"` // the socket's data, JSON; null when unset
	// User is the authenticated user the socket belongs to; empty when
	// unknown (Node's socket.io has no such field and never sends it).
	User string `json:"user,omitempty"`
}

// Local is the node-local side of one namespace, implemented by the session
// layer. An adapter calls it to act on this node's sockets, for local calls and
// for requests from other nodes alike. All methods may be called concurrently.
type Local interface {
	// Name is the namespace name, with its leading slash.
	Name() string
	// Deliver writes pkt to every socket of to. It encodes pkt once and hands
	// the same bytes to each socket's writer; it never blocks on a socket.
	Deliver(pkt *socketio.Packet, flags Flags, to iter.Seq[Socket])
	// DeliverWithAck writes pkt to every socket of to, each with an ack id of
	// its own, and calls ack with each client's ACK packet (from any
	// goroutine) until ctx is done. It returns how many sockets it wrote to.
	DeliverWithAck(ctx context.Context, pkt *socketio.Packet, flags Flags, to iter.Seq[Socket], ack func(*socketio.Packet)) int
	// Info describes a local socket for FetchSockets (Rooms is filled in by the adapter).
	Info(s Socket) SocketInfo
	// Disconnect disconnects a local socket; with close, its whole
	// Engine.IO connection is closed too.
	Disconnect(s Socket, close bool)
	// ServerSideEmit runs the namespace's server-side handlers for an event
	// sent by another node. data is the JSON array [event, args...]. ack is nil
	// when the sender wants no reply; otherwise it must be called at most once
	// with the reply (the first ack argument, as JSON).
	ServerSideEmit(data json.RawMessage, ack func(json.RawMessage))
}

// Adapter connects the namespaces of one server to the rest of its cluster.
// The in-memory adapter (NewMemory) serves a single node.
type Adapter interface {
	// Namespace returns the adapter of one namespace. The session layer calls
	// it once per namespace, when the namespace is created.
	Namespace(local Local) (Namespace, error)
	// Close stops the adapter and waits for its goroutines.
	Close() error
}

// Namespace is the adapter of one namespace: the room index of this node's
// sockets, and the broadcasts and cluster operations that span every node.
// All methods may be called concurrently.
type Namespace interface {
	// AddAll adds a local socket to rooms.
	AddAll(s Socket, rooms ...string)
	// Del removes a local socket from one room.
	Del(s Socket, room string)
	// DelAll removes a local socket from every room.
	DelAll(s Socket)
	// SocketRooms lists the rooms of a local socket (nil if it has none).
	SocketRooms(s Socket) []string

	// Broadcast delivers pkt (an EVENT or BINARY_EVENT without an ID) to the
	// selected sockets on this node, and publishes it to the other nodes unless
	// opts.Flags.Local is set.
	Broadcast(ctx context.Context, pkt *socketio.Packet, opts Options) error
	// BroadcastWithAck is Broadcast with an ack id per client. clientCount is
	// called once per node that took part (this node included) with the number
	// of clients it wrote to; ack is called once per client ACK. Callbacks may
	// come from any goroutine; waiting for them (until ctx is done) is the
	// caller's business: ServerCount says how many counts to expect.
	BroadcastWithAck(ctx context.Context, pkt *socketio.Packet, opts Options, clientCount func(int), ack func(*socketio.Packet)) error

	// SocketsJoin makes the selected sockets of every node join rooms.
	SocketsJoin(ctx context.Context, opts Options, rooms ...string) error
	// SocketsLeave makes the selected sockets of every node leave rooms.
	SocketsLeave(ctx context.Context, opts Options, rooms ...string) error
	// DisconnectSockets disconnects the selected sockets of every node.
	DisconnectSockets(ctx context.Context, opts Options, close bool) error
	// FetchSockets describes the selected sockets of every node (of this node
	// only with opts.Flags.Local). On a timeout it returns what arrived and a
	// *TimeoutError.
	FetchSockets(ctx context.Context, opts Options) ([]SocketInfo, error)

	// ServerSideEmit sends an event to the other nodes of the cluster (never to
	// this one). data is the JSON array [event, args...].
	ServerSideEmit(ctx context.Context, data json.RawMessage) error
	// ServerSideEmitWithAck is ServerSideEmit expecting one reply per other
	// node. On a timeout (ctx) it returns the replies that arrived and a
	// *TimeoutError.
	ServerSideEmitWithAck(ctx context.Context, data json.RawMessage) ([]json.RawMessage, error)

	// AllRooms lists the rooms of every node (socket ID rooms included).
	AllRooms(ctx context.Context) ([]string, error)
	// ServerCount is the number of nodes serving this namespace, this one included.
	ServerCount(ctx context.Context) (int, error)

	// Close detaches the namespace from the cluster.
	Close() error
}

// Health is implemented by adapters that can be degraded (the Redis adapter
// while Redis is unreachable). A nil error means healthy.
type Health interface {
	Health() error
}

// ErrClosed is returned by operations on a closed adapter.
var ErrClosed = errors.New("adapter: closed")

// TimeoutError reports a cluster request that did not get every reply in time.
type TimeoutError struct {
	Op       string // "fetchSockets", "serverSideEmit", "allRooms", "broadcastWithAck"
	Received int    // replies that arrived
	Expected int    // replies that were expected
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("adapter: %s: timeout reached: only %d responses received out of %d (%d nodes did not answer)",
		e.Op, e.Received, e.Expected, e.Expected-e.Received)
}

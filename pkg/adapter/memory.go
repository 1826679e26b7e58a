package adapter

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// NewMemory returns the in-memory adapter: a single node whose cluster is
// itself. Broadcasts and cluster operations act on the local sockets only,
// ServerCount is 1 and ServerSideEmit reaches nobody. Its namespaces are
// Recoverers: with recovery enabled they keep a bounded history of
// broadcasts and the sessions of disconnected sockets in memory.
func NewMemory() Adapter { return &memory{} }

type memory struct{ closed atomic.Bool }

func (m *memory) Namespace(local Local) (Namespace, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return &memoryNamespace{Rooms: NewRooms(nil), local: local, adapter: m}, nil
}

func (m *memory) Close() error {
	m.closed.Store(true)
	return nil
}

// memoryNamespace is a Rooms index plus the cluster operations of a cluster
// of one.
type memoryNamespace struct {
	*Rooms
	local   Local
	adapter *memory
	closed  atomic.Bool
	hist    atomic.Pointer[history] // set by EnableRecovery
}

func (n *memoryNamespace) err() error {
	if n.closed.Load() || n.adapter.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (n *memoryNamespace) Broadcast(_ context.Context, pkt *socketio.Packet, opts Options) error {
	if err := n.err(); err != nil {
		return err
	}
	if h := n.hist.Load(); h != nil && Stored(pkt, opts) {
		pkt = h.add(pkt, opts)
	}
	n.local.Deliver(pkt, opts.Flags, n.Select(opts))
	return nil
}

func (n *memoryNamespace) BroadcastWithAck(ctx context.Context, pkt *socketio.Packet, opts Options, clientCount func(int), ack func(*socketio.Packet)) error {
	if err := n.err(); err != nil {
		return err
	}
	clientCount(n.local.DeliverWithAck(ctx, pkt, opts.Flags, n.Select(opts), ack))
	return nil
}

func (n *memoryNamespace) SocketsJoin(_ context.Context, opts Options, rooms ...string) error {
	if err := n.err(); err != nil {
		return err
	}
	for _, s := range n.Collect(opts) {
		n.AddAllIfPresent(s, rooms...) // not a socket that left since Collect
	}
	return nil
}

func (n *memoryNamespace) SocketsLeave(_ context.Context, opts Options, rooms ...string) error {
	if err := n.err(); err != nil {
		return err
	}
	for _, s := range n.Collect(opts) {
		for _, room := range rooms {
			n.Del(s, room)
		}
	}
	return nil
}

func (n *memoryNamespace) DisconnectSockets(_ context.Context, opts Options, close bool) error {
	if err := n.err(); err != nil {
		return err
	}
	for _, s := range n.Collect(opts) {
		n.local.Disconnect(s, close)
	}
	return nil
}

func (n *memoryNamespace) FetchSockets(_ context.Context, opts Options) ([]SocketInfo, error) {
	if err := n.err(); err != nil {
		return nil, err
	}
	return LocalSockets(n.Rooms, n.local, opts), nil
}

// LocalSockets describes the local sockets that opts selects, with their
// rooms: the local part of FetchSockets, for any adapter.
func LocalSockets(rooms *Rooms, local Local, opts Options) []SocketInfo {
	var infos []SocketInfo
	for s := range rooms.Select(opts) {
		info := local.Info(s)
		info.Rooms = rooms.SocketRooms(s)
		infos = append(infos, info)
	}
	return infos
}

func (n *memoryNamespace) ServerSideEmit(context.Context, json.RawMessage) error {
	return n.err()
}

func (n *memoryNamespace) ServerSideEmitWithAck(context.Context, json.RawMessage) ([]json.RawMessage, error) {
	return nil, n.err()
}

func (n *memoryNamespace) AllRooms(context.Context) ([]string, error) {
	if err := n.err(); err != nil {
		return nil, err
	}
	return n.Names(), nil
}

func (n *memoryNamespace) ServerCount(context.Context) (int, error) {
	if err := n.err(); err != nil {
		return 0, err
	}
	return 1, nil
}

func (n *memoryNamespace) Close() error {
	n.closed.Store(true)
	return nil
}

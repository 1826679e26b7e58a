package adaptertest

import (
	"context"
	"encoding/json"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// fakeSocket is a socket of a fakeLocal.
type fakeSocket struct{ id string }

func (s *fakeSocket) ID() string { return s.id }

// delivery is one call of Deliver or DeliverWithAck, by event name.
type delivery struct {
	event string
	ids   []string
	flags adapter.Flags
}

// fakeLocal is the session side of one namespace on one node: it records
// what the adapter asks of it.
type fakeLocal struct {
	name string
	node int
	nsp  adapter.Namespace // set once, before use

	mu           sync.Mutex
	sockets      map[string]*fakeSocket
	noAck        map[string]bool // sockets that never ack
	deliveries   []delivery
	disconnected map[string]bool // id -> close
	emits        []string        // ServerSideEmit data
	silent       bool            // do not answer ServerSideEmit acks
}

func newFakeLocal(name string, node int) *fakeLocal {
	return &fakeLocal{
		name:         name,
		node:         node,
		sockets:      make(map[string]*fakeSocket),
		noAck:        make(map[string]bool),
		disconnected: make(map[string]bool),
	}
}

// add connects a socket: it joins its own room and rooms.
func (l *fakeLocal) add(id string, rooms ...string) *fakeSocket {
	s := &fakeSocket{id: id}
	l.mu.Lock()
	l.sockets[id] = s
	l.mu.Unlock()
	l.nsp.AddAll(s, append([]string{id}, rooms...)...)
	return s
}

func (l *fakeLocal) Name() string { return l.name }

// eventName returns the first element of an event's data array.
func eventName(data []byte) string {
	var arr []json.RawMessage
	if json.Unmarshal(data, &arr) != nil || len(arr) == 0 {
		return "?" + string(data)
	}
	var name string
	if json.Unmarshal(arr[0], &name) != nil {
		return "?" + string(data)
	}
	return name
}

func (l *fakeLocal) record(pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket]) []adapter.Socket {
	var got []adapter.Socket
	var ids []string
	for s := range to {
		got = append(got, s)
		ids = append(ids, s.ID())
	}
	l.mu.Lock()
	l.deliveries = append(l.deliveries, delivery{event: eventName(pkt.Data), ids: ids, flags: flags})
	l.mu.Unlock()
	return got
}

func (l *fakeLocal) Deliver(pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket]) {
	l.record(pkt, flags, to)
}

func (l *fakeLocal) DeliverWithAck(ctx context.Context, pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket], ack func(*socketio.Packet)) int {
	got := l.record(pkt, flags, to)
	for _, s := range got {
		l.mu.Lock()
		silent := l.noAck[s.ID()]
		l.mu.Unlock()
		if silent || ctx.Err() != nil {
			continue
		}
		data, _ := json.Marshal([]string{"ack-" + s.ID()})
		ack(&socketio.Packet{Type: socketio.Ack, Namespace: l.name, Data: data})
	}
	return len(got)
}

func (l *fakeLocal) Info(s adapter.Socket) adapter.SocketInfo {
	return adapter.SocketInfo{
		ID: s.ID(),
		Handshake: adapter.Handshake{
			Headers: map[string]string{"x-id": s.ID()},
			Time:    "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)",
			Address: "127.0.0.1",
			Issued:  1,
			URL:     "/socket.io/?EIO=4&transport=websocket",
			Query:   map[string]string{"EIO": "4"},
			Auth:    json.RawMessage(`{"token":"` + s.ID() + `"}`),
		},
		Data: json.RawMessage(`{"id":"` + s.ID() + `"}`),
	}
}

func (l *fakeLocal) Disconnect(s adapter.Socket, close bool) {
	l.mu.Lock()
	l.disconnected[s.ID()] = close
	delete(l.sockets, s.ID())
	l.mu.Unlock()
	l.nsp.DelAll(s)
}

func (l *fakeLocal) ServerSideEmit(data json.RawMessage, ack func(json.RawMessage)) {
	l.mu.Lock()
	l.emits = append(l.emits, string(data))
	silent := l.silent
	l.mu.Unlock()
	if ack != nil && !silent {
		reply, _ := json.Marshal("node-" + string(rune('0'+l.node)) + ":" + eventName(data))
		ack(reply)
	}
}

// received returns the sorted IDs delivered with event, and how many
// deliveries carried it.
func (l *fakeLocal) received(event string) (ids []string, calls int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.deliveries {
		if d.event == event {
			ids = append(ids, d.ids...)
			calls++
		}
	}
	slices.Sort(ids)
	return ids, calls
}

func (l *fakeLocal) flagsOf(event string) (adapter.Flags, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.deliveries {
		if d.event == event {
			return d.flags, true
		}
	}
	return adapter.Flags{}, false
}

func (l *fakeLocal) emitted(event string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.emits {
		if strings.Contains(e, `"`+event+`"`) {
			n++
		}
	}
	return n
}

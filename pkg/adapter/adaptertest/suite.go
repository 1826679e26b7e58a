// Package adaptertest is the conformance suite that every adapter.Adapter
// implementation runs, in the spirit of testing/fstest.TestFS.
//
// An implementation calls Run from a test with a factory that builds a
// cluster of fresh, connected adapters (one per node):
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, func(t *testing.T, nodes int) []adapter.Adapter {
//			... build nodes adapters sharing one cluster; t.Cleanup closes them ...
//		})
//	}
//
// The suite plays the session layer with a fake adapter.Local per node that
// records deliveries, disconnections and server-side events. Every test runs
// on a 1-node cluster and again on a 3-node cluster; a factory that cannot
// build the requested number of nodes returns fewer adapters (or nil) and
// those subtests are skipped. The factory owns the adapters (it closes them
// in t.Cleanup); the suite closes the namespaces it creates.
//
// Cluster delivery may be asynchronous: the suite polls for each expected
// outcome for up to 5 seconds.
package adaptertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// waitTimeout bounds every poll of the suite.
const waitTimeout = 5 * time.Second

// Run runs the conformance suite against the adapters newCluster builds.
func Run(t *testing.T, newCluster func(t *testing.T, nodes int) []adapter.Adapter) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *cluster)
	}{
		{"Broadcast", testBroadcast},
		{"BroadcastNamespaces", testNamespaces},
		{"SocketsJoinLeave", testSocketsJoinLeave},
		{"DisconnectSockets", testDisconnectSockets},
		{"FetchSockets", testFetchSockets},
		{"ServerSideEmit", testServerSideEmit},
		{"ServerSideEmitWithAck", testServerSideEmitWithAck},
		{"AllRooms", testAllRooms},
		{"ServerCount", testServerCount},
		{"BroadcastWithAck", testBroadcastWithAck},
		{"Close", testClose},
	}
	for _, nodes := range []int{1, 3} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					adapters := newCluster(t, nodes)
					if len(adapters) < nodes {
						t.Skipf("the factory cannot build %d nodes", nodes)
					}
					tt.fn(t, newTestCluster(t, adapters))
				})
			}
		})
	}
}

// cluster is a test cluster: per node, the fake session of namespace "/".
type cluster struct {
	adapters []adapter.Adapter
	nodes    []*fakeLocal
}

func newTestCluster(t *testing.T, adapters []adapter.Adapter) *cluster {
	c := &cluster{adapters: adapters}
	c.nodes = c.namespace(t, "/")
	return c
}

// namespace attaches namespace name on every node and populates it with the
// standard sockets: on node i, "a" in r1, "b" in r1 and r2, "c" in r2, "d"
// in r3 and "e" in no room (each also in the room of its ID).
func (c *cluster) namespace(t *testing.T, name string) []*fakeLocal {
	t.Helper()
	var locals []*fakeLocal
	for i, a := range c.adapters {
		l := newFakeLocal(name, i)
		nsp, err := a.Namespace(l)
		if err != nil {
			t.Fatalf("node %d: Namespace(%q): %v", i, name, err)
		}
		t.Cleanup(func() { nsp.Close() })
		l.nsp = nsp
		l.add(sid(i, "a"), "r1")
		l.add(sid(i, "b"), "r1", "r2")
		l.add(sid(i, "c"), "r2")
		l.add(sid(i, "d"), "r3")
		l.add(sid(i, "e"))
		locals = append(locals, l)
	}
	return locals
}

// sid is the 20-character ID of socket name on node i.
func sid(node int, name string) string {
	id := fmt.Sprintf("%s-node%d-", name, node)
	return id + strings.Repeat("x", 20-len(id))
}

// sids returns the sorted IDs of names on node i.
func sids(node int, names ...string) []string {
	var ids []string
	for _, n := range names {
		ids = append(ids, sid(node, n))
	}
	slices.Sort(ids)
	return ids
}

func event(name string, args ...string) *socketio.Packet {
	data := `["` + name + `"`
	for _, a := range args {
		data += "," + a
	}
	return &socketio.Packet{Type: socketio.Event, Namespace: "/", Data: []byte(data + "]")}
}

// waitFor polls cond until it returns nil or the suite's timeout passes.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expectDelivered waits until every node received event for exactly the
// sockets want(node) lists, in at most one delivery per node.
func expectDelivered(t *testing.T, nodes []*fakeLocal, ev string, want func(node int) []string) {
	t.Helper()
	waitFor(t, "delivery of "+ev, func() error {
		for i, l := range nodes {
			got, calls := l.received(ev)
			w := want(i)
			if calls > 1 {
				return fmt.Errorf("node %d: %d deliveries, want at most 1", i, calls)
			}
			if !slices.Equal(got, w) {
				return fmt.Errorf("node %d: delivered to %v, want %v", i, got, w)
			}
		}
		return nil
	})
}

func testBroadcast(t *testing.T, c *cluster) {
	last := len(c.nodes) - 1
	tests := []struct {
		name string
		opts adapter.Options
		want func(node int) []string
	}{
		{"all", adapter.Options{}, func(i int) []string { return sids(i, "a", "b", "c", "d", "e") }},
		{"room", adapter.Options{Rooms: []string{"r1"}}, func(i int) []string { return sids(i, "a", "b") }},
		{"union each once", adapter.Options{Rooms: []string{"r1", "r2"}}, func(i int) []string { return sids(i, "a", "b", "c") }},
		{"duplicate rooms", adapter.Options{Rooms: []string{"r2", "r2"}}, func(i int) []string { return sids(i, "b", "c") }},
		{"unknown room", adapter.Options{Rooms: []string{"nope"}}, func(int) []string { return nil }},
		{"except", adapter.Options{Except: []string{"r2"}}, func(i int) []string { return sids(i, "a", "d", "e") }},
		{"room except", adapter.Options{Rooms: []string{"r1"}, Except: []string{"r2"}}, func(i int) []string { return sids(i, "a") }},
		{"except any", adapter.Options{Except: []string{"r1", "r3"}}, func(i int) []string { return sids(i, "c", "e") }},
		{"socket room", adapter.Options{Rooms: []string{sid(last, "c")}}, func(i int) []string {
			if i == last {
				return sids(i, "c")
			}
			return nil
		}},
		{"except socket", adapter.Options{Rooms: []string{"r1"}, Except: []string{sid(0, "a")}}, func(i int) []string {
			if i == 0 {
				return sids(i, "b")
			}
			return sids(i, "a", "b")
		}},
		{"local", adapter.Options{Rooms: []string{"r2"}, Flags: adapter.Flags{Local: true}}, func(i int) []string {
			if i == 0 {
				return sids(i, "b", "c")
			}
			return nil
		}},
		{"volatile", adapter.Options{Rooms: []string{"r3"}, Flags: adapter.Flags{Volatile: true}}, func(i int) []string { return sids(i, "d") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := "bc-" + strings.ReplaceAll(tt.name, " ", "-")
			if err := c.nodes[0].nsp.Broadcast(context.Background(), event(ev, "1"), tt.opts); err != nil {
				t.Fatalf("Broadcast: %v", err)
			}
			expectDelivered(t, c.nodes, ev, tt.want)
			if tt.opts.Flags.Volatile {
				for i, l := range c.nodes {
					if f, ok := l.flagsOf(ev); ok && !f.Volatile {
						t.Errorf("node %d: volatile flag lost: %+v", i, f)
					}
				}
			}
		})
	}
}

func testNamespaces(t *testing.T, c *cluster) {
	other := c.namespace(t, "/other")
	if err := c.nodes[0].nsp.Broadcast(context.Background(), event("ns-main"), adapter.Options{}); err != nil {
		t.Fatal(err)
	}
	otherPkt := event("ns-other")
	otherPkt.Namespace = "/other"
	if err := other[0].nsp.Broadcast(context.Background(), otherPkt, adapter.Options{Rooms: []string{"r1"}}); err != nil {
		t.Fatal(err)
	}
	expectDelivered(t, c.nodes, "ns-main", func(i int) []string { return sids(i, "a", "b", "c", "d", "e") })
	expectDelivered(t, other, "ns-other", func(i int) []string { return sids(i, "a", "b") })
	for i := range c.nodes {
		if got, _ := c.nodes[i].received("ns-other"); len(got) > 0 {
			t.Errorf("node %d: namespace / got the /other broadcast: %v", i, got)
		}
		if got, _ := other[i].received("ns-main"); len(got) > 0 {
			t.Errorf("node %d: namespace /other got the / broadcast: %v", i, got)
		}
	}
}

// expectRooms waits until socket name on every node has exactly rooms
// (besides its own ID room).
func expectRooms(t *testing.T, nodes []*fakeLocal, name string, rooms ...string) {
	t.Helper()
	waitFor(t, "rooms of "+name, func() error {
		for i, l := range nodes {
			id := sid(i, name)
			got := l.nsp.SocketRooms(&fakeSocket{id: id})
			want := append([]string{id}, rooms...)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				return fmt.Errorf("node %d: rooms %v, want %v", i, got, want)
			}
		}
		return nil
	})
}

func testSocketsJoinLeave(t *testing.T, c *cluster) {
	ctx := context.Background()
	nsp := c.nodes[0].nsp
	if err := nsp.SocketsJoin(ctx, adapter.Options{Rooms: []string{"r1"}, Except: []string{"r2"}}, "j1", "j2"); err != nil {
		t.Fatalf("SocketsJoin: %v", err)
	}
	expectRooms(t, c.nodes, "a", "r1", "j1", "j2")
	expectRooms(t, c.nodes, "b", "r1", "r2")

	if err := nsp.SocketsJoin(ctx, adapter.Options{Rooms: []string{"r3"}, Flags: adapter.Flags{Local: true}}, "j3"); err != nil {
		t.Fatalf("SocketsJoin local: %v", err)
	}
	waitFor(t, "local join", func() error {
		if rooms := c.nodes[0].nsp.SocketRooms(&fakeSocket{id: sid(0, "d")}); !slices.Contains(rooms, "j3") {
			return fmt.Errorf("node 0: d has rooms %v, want j3", rooms)
		}
		return nil
	})

	if err := nsp.SocketsLeave(ctx, adapter.Options{}, "j1", "r1"); err != nil {
		t.Fatalf("SocketsLeave: %v", err)
	}
	expectRooms(t, c.nodes, "a", "j2")
	expectRooms(t, c.nodes, "b", "r2")

	// The index follows: a broadcast to j2 reaches the a sockets only.
	if err := nsp.Broadcast(ctx, event("after-join"), adapter.Options{Rooms: []string{"j2", "j1"}}); err != nil {
		t.Fatal(err)
	}
	expectDelivered(t, c.nodes, "after-join", func(i int) []string { return sids(i, "a") })
	for i := 1; i < len(c.nodes); i++ {
		if rooms := c.nodes[i].nsp.SocketRooms(&fakeSocket{id: sid(i, "d")}); slices.Contains(rooms, "j3") {
			t.Errorf("node %d: a local join reached another node: %v", i, rooms)
		}
	}
}

func testDisconnectSockets(t *testing.T, c *cluster) {
	ctx := context.Background()
	if err := c.nodes[0].nsp.DisconnectSockets(ctx, adapter.Options{Rooms: []string{"r2"}, Except: []string{"r1"}}, true); err != nil {
		t.Fatalf("DisconnectSockets: %v", err)
	}
	if err := c.nodes[0].nsp.DisconnectSockets(ctx, adapter.Options{Rooms: []string{"r3"}}, false); err != nil {
		t.Fatalf("DisconnectSockets: %v", err)
	}
	waitFor(t, "disconnections", func() error {
		for i, l := range c.nodes {
			l.mu.Lock()
			got := maps.Clone(l.disconnected)
			l.mu.Unlock()
			want := map[string]bool{sid(i, "c"): true, sid(i, "d"): false}
			if !maps.Equal(got, want) {
				return fmt.Errorf("node %d: disconnected %v, want %v", i, got, want)
			}
		}
		return nil
	})
}

func testFetchSockets(t *testing.T, c *cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nsp := c.nodes[0].nsp

	check := func(t *testing.T, opts adapter.Options, want []string) {
		t.Helper()
		infos, err := nsp.FetchSockets(ctx, opts)
		if err != nil {
			t.Fatalf("FetchSockets: %v", err)
		}
		var ids []string
		for _, info := range infos {
			ids = append(ids, info.ID)
			if info.Handshake.Headers["x-id"] != info.ID || info.Handshake.Query["EIO"] != "4" ||
				info.Handshake.Address != "127.0.0.1" || info.Handshake.Issued != 1 {
				t.Errorf("%s: handshake %+v", info.ID, info.Handshake)
			}
			var auth, data map[string]string
			if err := json.Unmarshal(info.Handshake.Auth, &auth); err != nil || auth["token"] != info.ID {
				t.Errorf("%s: auth %s (%v)", info.ID, info.Handshake.Auth, err)
			}
			if err := json.Unmarshal(info.Data, &data); err != nil || data["id"] != info.ID {
				t.Errorf("%s: data %s (%v)", info.ID, info.Data, err)
			}
			if !slices.Contains(info.Rooms, info.ID) || !slices.Contains(info.Rooms, "r1") {
				t.Errorf("%s: rooms %v, want its ID and r1", info.ID, info.Rooms)
			}
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("FetchSockets = %v, want %v", ids, want)
		}
	}

	t.Run("cluster", func(t *testing.T) {
		var want []string
		for i := range c.nodes {
			want = append(want, sids(i, "a", "b")...)
		}
		check(t, adapter.Options{Rooms: []string{"r1"}}, want)
	})
	t.Run("except", func(t *testing.T) {
		var want []string
		for i := range c.nodes {
			want = append(want, sids(i, "a")...)
		}
		check(t, adapter.Options{Rooms: []string{"r1"}, Except: []string{"r2"}}, want)
	})
	t.Run("local", func(t *testing.T) {
		check(t, adapter.Options{Rooms: []string{"r1"}, Flags: adapter.Flags{Local: true}}, sids(0, "a", "b"))
	})
	t.Run("none", func(t *testing.T) {
		check(t, adapter.Options{Rooms: []string{"nope"}}, nil)
	})
}

func testServerSideEmit(t *testing.T, c *cluster) {
	if err := c.nodes[0].nsp.ServerSideEmit(context.Background(), json.RawMessage(`["sse1","x",{"k":1}]`)); err != nil {
		t.Fatalf("ServerSideEmit: %v", err)
	}
	waitFor(t, "server-side emit", func() error {
		for i := 1; i < len(c.nodes); i++ {
			if n := c.nodes[i].emitted("sse1"); n != 1 {
				return fmt.Errorf("node %d got it %d times, want 1", i, n)
			}
		}
		return nil
	})
	if n := c.nodes[0].emitted("sse1"); n != 0 {
		t.Errorf("the sending node got its own server-side emit %d times", n)
	}
	// The arguments arrive intact.
	if len(c.nodes) > 1 {
		c.nodes[1].mu.Lock()
		got := c.nodes[1].emits[0]
		c.nodes[1].mu.Unlock()
		var v []any
		if err := json.Unmarshal([]byte(got), &v); err != nil || len(v) != 3 || v[1] != "x" {
			t.Errorf("node 1 got %s (%v)", got, err)
		}
	}
}

func testServerSideEmitWithAck(t *testing.T, c *cluster) {
	t.Run("replies", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		replies, err := c.nodes[0].nsp.ServerSideEmitWithAck(ctx, json.RawMessage(`["sse-ack"]`))
		if err != nil {
			t.Fatalf("ServerSideEmitWithAck: %v", err)
		}
		var got []string
		for _, r := range replies {
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				t.Errorf("reply %s: %v", r, err)
			}
			got = append(got, s)
		}
		var want []string
		for i := 1; i < len(c.nodes); i++ {
			want = append(want, fmt.Sprintf("node-%d:sse-ack", i))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("replies %v, want %v", got, want)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		if len(c.nodes) < 2 {
			t.Skip("needs another node")
		}
		silent := c.nodes[len(c.nodes)-1]
		silent.mu.Lock()
		silent.silent = true
		silent.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		replies, err := c.nodes[0].nsp.ServerSideEmitWithAck(ctx, json.RawMessage(`["sse-silent"]`))
		if elapsed := time.Since(start); elapsed > waitTimeout {
			t.Errorf("took %v", elapsed)
		}
		var te *adapter.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want a *adapter.TimeoutError", err)
		}
		others := len(c.nodes) - 1
		if te.Expected != others || te.Received != others-1 || len(replies) != others-1 {
			t.Errorf("TimeoutError %+v with %d replies, want %d of %d", te, len(replies), others-1, others)
		}
	})
}

func testAllRooms(t *testing.T, c *cluster) {
	want := []string{"r1", "r2", "r3"}
	for i := range c.nodes {
		want = append(want, sids(i, "a", "b", "c", "d", "e")...)
	}
	slices.Sort(want)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for i, l := range c.nodes {
		got, err := l.nsp.AllRooms(ctx)
		if err != nil {
			t.Fatalf("node %d: AllRooms: %v", i, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("node %d: AllRooms = %v, want %v (each once)", i, got, want)
		}
	}
}

func testServerCount(t *testing.T, c *cluster) {
	waitFor(t, "server count", func() error {
		for i, l := range c.nodes {
			n, err := l.nsp.ServerCount(context.Background())
			if err != nil {
				return err
			}
			if n != len(c.nodes) {
				return fmt.Errorf("node %d: ServerCount = %d, want %d", i, n, len(c.nodes))
			}
		}
		return nil
	})
}

func testBroadcastWithAck(t *testing.T, c *cluster) {
	// One socket never answers.
	silent := sid(0, "b")
	c.nodes[0].mu.Lock()
	c.nodes[0].noAck[silent] = true
	c.nodes[0].mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var (
		mu     sync.Mutex
		counts []int
		acks   []string
	)
	err := c.nodes[0].nsp.BroadcastWithAck(ctx, event("bwa", `"q"`), adapter.Options{Rooms: []string{"r1"}},
		func(n int) {
			mu.Lock()
			counts = append(counts, n)
			mu.Unlock()
		},
		func(p *socketio.Packet) {
			var v []string
			if err := json.Unmarshal(p.Data, &v); err != nil || len(v) != 1 {
				t.Errorf("ack data %s: %v", p.Data, err)
				return
			}
			mu.Lock()
			acks = append(acks, v[0])
			mu.Unlock()
		})
	if err != nil {
		t.Fatalf("BroadcastWithAck: %v", err)
	}
	var wantAcks []string
	for i := range c.nodes {
		for _, id := range sids(i, "a", "b") {
			if id != silent {
				wantAcks = append(wantAcks, "ack-"+id)
			}
		}
	}
	slices.Sort(wantAcks)
	waitFor(t, "client counts and acks", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(counts) != len(c.nodes) {
			return fmt.Errorf("client counts %v, want one per node (%d)", counts, len(c.nodes))
		}
		for _, n := range counts {
			if n != 2 {
				return fmt.Errorf("client counts %v, want 2 each", counts)
			}
		}
		got := slices.Sorted(slices.Values(acks))
		if !slices.Equal(got, wantAcks) {
			return fmt.Errorf("acks %v, want %v", got, wantAcks)
		}
		return nil
	})
	expectDelivered(t, c.nodes, "bwa", func(i int) []string { return sids(i, "a", "b") })
}

func testClose(t *testing.T, c *cluster) {
	nsp := c.nodes[0].nsp
	if err := nsp.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := nsp.Broadcast(context.Background(), event("after-close"), adapter.Options{}); err == nil {
		t.Error("Broadcast after Close: nil error")
	}
}

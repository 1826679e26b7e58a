package adapter

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

type testSocket struct{ id string }

func (s *testSocket) ID() string { return s.id }

func TestRoomsHooks(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	r := NewRooms(func(room string, created bool) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %v", room, created))
	})
	// Enough sockets to land in several shards.
	var socks []*testSocket
	for i := range 100 {
		s := &testSocket{id: fmt.Sprint("s", i)}
		socks = append(socks, s)
		r.AddAll(s, "room", "room")
	}
	if !r.HasRoom("room") || r.Len() != 100 {
		t.Fatalf("HasRoom = %v, Len = %d", r.HasRoom("room"), r.Len())
	}
	if got := r.SocketRooms(socks[0]); !slices.Equal(got, []string{"room"}) {
		t.Fatalf("SocketRooms = %v", got)
	}
	for i, s := range socks {
		if i%2 == 0 {
			r.Del(s, "room")
		} else {
			r.DelAll(s)
		}
	}
	if r.HasRoom("room") || r.Len() != 0 || len(r.Names()) != 0 {
		t.Fatalf("not empty: %v %d %v", r.HasRoom("room"), r.Len(), r.Names())
	}
	if want := []string{"room true", "room false"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
}

func TestRoomsConcurrent(t *testing.T) {
	r := NewRooms(nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				s := &testSocket{id: fmt.Sprint(g, "-", i)}
				r.AddAll(s, s.id, "all", fmt.Sprint("r", i%3))
				for range r.Select(Options{Rooms: []string{"r1", "all"}, Except: []string{"r2"}}) {
				}
				if i%2 == 0 {
					r.DelAll(s)
				}
			}
		})
	}
	wg.Wait()
	if n := len(r.Collect(Options{Rooms: []string{"all"}})); n != 400 {
		t.Fatalf("%d sockets left in all, want 400", n)
	}
}

func BenchmarkRoomsSelect(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		r := NewRooms(nil)
		for i := range n {
			s := &testSocket{id: fmt.Sprintf("sock%016d", i)}
			r.AddAll(s, s.id, fmt.Sprint("r", i%2))
		}
		for _, tc := range []struct {
			name string
			opts Options
		}{
			{"all", Options{}},
			{"room", Options{Rooms: []string{"r1"}}},
			{"room-except", Options{Rooms: []string{"r0", "r1"}, Except: []string{"r1"}}},
			// socket.broadcast: everyone but the sender.
			{"all-except-one", Options{Except: []string{fmt.Sprintf("sock%016d", 7)}}},
		} {
			b.Run(fmt.Sprint(tc.name, "/", n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					for range r.Select(tc.opts) {
					}
				}
			})
		}
	}
}

func TestRoomsMembersInlineAndMap(t *testing.T) {
	// IDs with the same shard, so the room's members share one set.
	var socks []*testSocket
	r := NewRooms(nil)
	for i := 0; len(socks) < 3; i++ {
		s := &testSocket{id: fmt.Sprint("m", i)}
		if len(socks) == 0 || r.shard(s.id) == r.shard(socks[0].id) {
			socks = append(socks, s)
		}
	}
	a, b, c := socks[0], socks[1], socks[2]
	ids := func(opts Options) []string {
		var got []string
		for s := range r.Select(opts) {
			got = append(got, s.ID())
		}
		slices.Sort(got)
		return got
	}
	steps := []struct {
		name string
		do   func()
		room []string // members of "x", sorted
	}{
		{"first member inline", func() { r.AddAll(a, "x") }, []string{a.id}},
		{"same member again", func() { r.AddAll(a, "x") }, []string{a.id}},
		{"second member", func() { r.AddAll(b, "x") }, []string{a.id, b.id}},
		{"third member", func() { r.AddAll(c, "x") }, []string{a.id, b.id, c.id}},
		{"leave one", func() { r.Del(a, "x") }, []string{b.id, c.id}},
		{"leave all but one", func() { r.DelAll(b) }, []string{c.id}},
		{"leave the last", func() { r.Del(c, "x") }, nil},
		{"inline again", func() { r.AddAll(b, "x", "y") }, []string{b.id}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if got := ids(Options{Rooms: []string{"x"}}); !slices.Equal(got, st.room) {
				t.Fatalf("members of x = %v, want %v", got, st.room)
			}
			if r.HasRoom("x") != (len(st.room) > 0) {
				t.Fatalf("HasRoom(x) = %v with members %v", r.HasRoom("x"), st.room)
			}
		})
	}
	if got := ids(Options{Rooms: []string{"x", "y"}}); !slices.Equal(got, []string{b.id}) {
		t.Fatalf("x or y = %v, want once %s", got, b.id)
	}
	if got := ids(Options{Rooms: []string{"x"}, Except: []string{"y"}}); len(got) != 0 {
		t.Fatalf("x except y = %v, want none", got)
	}
}

func TestRoomsAddAllIfPresent(t *testing.T) {
	r := NewRooms(nil)
	a, b := &testSocket{id: "a"}, &testSocket{id: "b"}
	r.AddAll(a, "a")
	r.AddAllIfPresent(a, "x", "y")
	r.AddAllIfPresent(b, "x")
	if got := r.SocketRooms(a); !slices.Equal(got, []string{"a", "x", "y"}) {
		t.Fatalf("SocketRooms(a) = %v", got)
	}
	if got := r.SocketRooms(b); got != nil || r.Len() != 1 {
		t.Fatalf("a socket not in the index joined: %v, Len %d", got, r.Len())
	}
	r.DelAll(a)
	r.AddAllIfPresent(a, "z")
	if r.Len() != 0 || r.HasRoom("z") {
		t.Fatal("a removed socket came back")
	}
}

// TestSocketsJoinRacingDisconnects makes every socket join a room while
// they all disconnect: none may come back into the index.
func TestSocketsJoinRacingDisconnects(t *testing.T) {
	ns, err := NewMemory().Namespace(nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	socks := make([]*testSocket, n)
	for i := range socks {
		socks[i] = &testSocket{id: fmt.Sprint("s", i)}
		ns.AddAll(socks[i], socks[i].id)
	}
	var wg sync.WaitGroup
	left := make(chan struct{})
	wg.Go(func() {
		defer close(left)
		for _, s := range socks {
			ns.DelAll(s)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-left:
				return
			default:
				_ = ns.SocketsJoin(t.Context(), Options{}, "r")
			}
		}
	})
	wg.Wait()
	if ghosts := len(ns.(*memoryNamespace).Collect(Options{})); ghosts != 0 {
		t.Fatalf("%d disconnected sockets are back in the index", ghosts)
	}
}

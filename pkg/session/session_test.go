package session

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
)

// reasons records disconnect reasons by socket ID.
type reasons struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *reasons) hook(s *Socket, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]string)
	}
	r.m[s.ID()] = reason
}

func (r *reasons) wait(t *testing.T, id, want string) {
	t.Helper()
	waitFor(t, "disconnect reason "+want, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.m[id] == want
	})
}

func TestConnect(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Of("/admin").Use(func(s *Socket) error { return errors.New("not allowed") })
	s.Of("/vip").Use(func(s *Socket) error {
		return &ConnectError{Message: "need token", Data: map[string]int{"code": 42}}
	})
	gotAuth := make(chan string, 1)
	s.OnConnection(func(so *Socket) { gotAuth <- string(so.Handshake().Auth) })

	tests := []struct{ name, send, want string }{
		{"unknown namespace", "0/nope,", `44/nope,{"message":"Invalid namespace"}`},
		{"middleware error", "0/admin,", `44/admin,{"message":"not allowed"}`},
		{"connect error with data", `0/vip,{"token":1}`, `44/vip,{"message":"need token","data":{"code":42}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			c.recv(tt.send)
			c.expect(t, tt.want)
		})
	}
	t.Run("main with auth", func(t *testing.T) {
		c := dial(t, s)
		c.recv(`0{"token":"abc"}`)
		c.expectPrefix(t, `40{"sid":"`)
		if got := <-gotAuth; got != `{"token":"abc"}` {
			t.Errorf("auth %s", got)
		}
	})
	t.Run("several namespaces", func(t *testing.T) {
		s.Of("/chat")
		c := dial(t, s)
		a := connect(t, c, "/")
		b := connect(t, c, "/chat")
		<-gotAuth
		if a == b {
			t.Error("same sid in two namespaces")
		}
		if n := s.Stats().Sockets; n < 2 {
			t.Errorf("Stats().Sockets = %d", n)
		}
	})
}

func TestEventsAndAcks(t *testing.T) {
	s := newTestServer(t, Config{})
	s.OnConnection(func(so *Socket) {
		so.On("echo", func(so *Socket, ev *Event) {
			ev.AckRaw([]byte("["+string(joinArgs(ev.Args()))+"]"), ev.Attachments)
		})
		so.On("bin", func(so *Socket, ev *Event) {
			b, ok := ev.Binary(0)
			if !ok {
				t.Errorf("argument 0 is not binary: %s", ev.Data)
			}
			var got []byte
			if err := ev.Decode(0, &got); err != nil || string(got) != string(b) {
				t.Errorf("Decode binary: %q %v", got, err)
			}
			so.Emit("bin-back", b, "x")
		})
		so.On("ask", func(so *Socket, ev *Event) {
			// An ack inside a handler: the read path answers it while we block.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reply, err := so.EmitWithAck(ctx, "question", 1)
			if err != nil {
				t.Errorf("EmitWithAck: %v", err)
				return
			}
			var answer string
			reply.Decode(0, &answer)
			ev.Ack(answer)
		})
		so.On("noack", func(so *Socket, ev *Event) {
			if err := ev.Ack(); !errors.Is(err, ErrNoAck) {
				t.Errorf("Ack without id: %v", err)
			}
		})
	})
	c := dial(t, s)
	connect(t, c, "/")

	c.recv(`21["echo","a",{"b":1},9007199254740993]`)
	c.expect(t, `431["a",{"b":1},9007199254740993]`)

	c.recv(`51-["bin",{"_placeholder":true,"num":0}]`)
	c.recvBinary([]byte{1, 2, 3})
	c.expect(t, `451-["bin-back",{"_placeholder":true,"num":0},"x"]`)
	if fr := c.next(t); !fr.Binary || string(fr.Data) != "\x01\x02\x03" {
		t.Fatalf("attachment %q", fr.Data)
	}

	c.recv(`27["ask"]`)
	q := c.expectPrefix(t, `42`)
	id := strings.TrimSuffix(strings.TrimPrefix(q, "42"), `["question",1]`)
	c.recv("3" + id + `["yes"]`)
	c.expect(t, `437["yes"]`)

	c.recv(`51-3["echo",{"_placeholder":true,"num":0}]`)
	c.recvBinary([]byte("z"))
	c.expect(t, `461-3[{"_placeholder":true,"num":0}]`)
	c.next(t)

	c.recv(`2["noack"]`)
	c.recv(`21["echo"]`) // runs after noack: order is kept
	c.expect(t, `431[]`)
}

func joinArgs(args [][]byte) []byte {
	var out []byte
	for i, a := range args {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, a...)
	}
	return out
}

// TestEmitWithAckTimeoutAndDisconnect runs on synctest's fake clock, so the
// deadline is met exactly.
func TestEmitWithAckTimeoutAndDisconnect(t *testing.T) {
	synctest.Test(t, testEmitWithAckTimeoutAndDisconnect)
}

func testEmitWithAckTimeoutAndDisconnect(t *testing.T) {
	s := newTestServer(t, Config{})
	socks := make(chan *Socket, 1)
	s.OnConnection(func(so *Socket) { socks <- so })
	c := dial(t, s)
	connect(t, c, "/")
	so := <-socks

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := so.EmitWithAck(ctx, "q"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EmitWithAck = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d != 20*time.Millisecond {
		t.Fatalf("EmitWithAck returned after %v, want the 20ms deadline", d)
	}
	if _, err := so.EmitWithAck(ctx, "connect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("reserved: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := so.EmitWithAck(context.Background(), "q")
		done <- err
	}()
	waitFor(t, "pending ack", func() bool { return s.Stats().AcksPending == 1 })
	c.recv("1")
	if err := <-done; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("EmitWithAck after disconnect = %v", err)
	}
	if n := s.Stats().AcksPending; n != 0 {
		t.Errorf("AcksPending = %d", n)
	}
}

func TestRoomsAndBroadcast(t *testing.T) {
	s := newTestServer(t, Config{})
	socks := make(chan *Socket, 3)
	s.OnConnection(func(so *Socket) {
		so.On("join", func(so *Socket, ev *Event) {
			var room string
			ev.Decode(0, &room)
			so.Join(room)
			ev.Ack(true)
		})
		socks <- so
	})
	var conns []*fakeConn
	var ss []*Socket
	for range 3 {
		c := dial(t, s)
		connect(t, c, "/")
		conns = append(conns, c)
		ss = append(ss, <-socks)
	}
	a, b := conns[0], conns[1]
	a.recv(`21["join","r"]`)
	a.expect(t, `431[true]`)
	b.recv(`21["join","r"]`)
	b.expect(t, `431[true]`)
	if rooms := ss[0].Rooms(); !slices.Contains(rooms, "r") || !slices.Contains(rooms, ss[0].ID()) {
		t.Fatalf("Rooms = %v", rooms)
	}

	tests := []struct {
		name string
		emit func() error
		want [3]bool
	}{
		{"all", func() error { return s.Emit("m", "all") }, [3]bool{true, true, true}},
		{"room", func() error { return s.To("r").Emit("m", "room") }, [3]bool{true, true, false}},
		{"except", func() error { return s.Except("r").Emit("m", "except") }, [3]bool{false, false, true}},
		{"socket to room", func() error { return ss[0].To("r").Emit("m", "from-a") }, [3]bool{false, true, false}},
		{"socket broadcast", func() error { return ss[2].Broadcast().Emit("m", "from-c") }, [3]bool{true, true, false}},
		{"to socket id", func() error { return s.To(ss[1].ID()).Emit("m", "to-b") }, [3]bool{false, true, false}},
		{"raw", func() error { return s.To("r").EmitRaw([]byte(`["m","raw"]`), nil) }, [3]bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.emit(); err != nil {
				t.Fatal(err)
			}
			for i, c := range conns {
				if got := c.pending(); tt.want[i] != (len(got) == 1) || len(got) > 1 {
					t.Errorf("client %d got %q, want delivery %v", i, got, tt.want[i])
				}
				c.mu.Lock()
				c.read = len(c.frames)
				c.mu.Unlock()
			}
		})
	}

	// Cluster operations of the memory adapter.
	ctx := context.Background()
	if err := s.To("r").SocketsJoin(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	infos, err := s.Sockets().In("r2").FetchSockets(ctx)
	if err != nil || len(infos) != 2 {
		t.Fatalf("FetchSockets = %v, %v", infos, err)
	}
	for _, info := range infos {
		if info.Handshake.Headers["user-agent"] != "test" || info.Handshake.Query["EIO"] != "4" || !slices.Contains(info.Rooms, "r2") {
			t.Errorf("info %+v", info)
		}
	}
	if err := s.In("r2").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "41")
	b.expect(t, "41")
	waitFor(t, "disconnects", func() bool { return s.Stats().Sockets == 1 })
}

// TestBroadcastEmitWithAck runs on synctest's fake clock: the broadcast's
// Timeout expires exactly, however loaded the machine is.
func TestBroadcastEmitWithAck(t *testing.T) {
	synctest.Test(t, testBroadcastEmitWithAck)
}

func testBroadcastEmitWithAck(t *testing.T) {
	s := newTestServer(t, Config{})
	s.OnConnection(func(so *Socket) {})
	a, b := dial(t, s), dial(t, s)
	connect(t, a, "/")
	connect(t, b, "/")

	type result struct {
		acks []*Args
		err  error
	}
	done := make(chan result, 1)
	go func() {
		acks, err := s.Sockets().Timeout(200*time.Millisecond).EmitWithAck(context.Background(), "poll")
		done <- result{acks, err}
	}()
	q := a.expectPrefix(t, "42")
	b.expect(t, q) // encoded once: both get the same id
	id := strings.TrimSuffix(strings.TrimPrefix(q, "42"), `["poll"]`)
	a.recv("3" + id + `["a"]`)
	start := time.Now()
	r := <-done
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("EmitWithAck returned %v after the first ack, want its 200ms Timeout at most", d)
	}
	var te *adapter.TimeoutError
	if !errors.As(r.err, &te) || te.Received != 1 || te.Expected != 2 || len(r.acks) != 1 {
		t.Fatalf("EmitWithAck = %d acks, %v", len(r.acks), r.err)
	}

	go func() {
		acks, err := s.Sockets().EmitWithAck(context.Background(), "poll2")
		done <- result{acks, err}
	}()
	for _, c := range []*fakeConn{a, b} {
		q := c.expectPrefix(t, "42")
		id := strings.TrimSuffix(strings.TrimPrefix(q, "42"), `["poll2"]`)
		c.recv("3" + id + `["ok"]`)
	}
	if r := <-done; r.err != nil || len(r.acks) != 2 {
		t.Fatalf("EmitWithAck = %d acks, %v", len(r.acks), r.err)
	}

	// Raw: the event's bytes and attachments go out as given.
	go func() {
		acks, err := s.Sockets().To().EmitRawWithAck(context.Background(), []byte(`["raw",1.50,{"_placeholder":true,"num":0}]`), [][]byte{{7}})
		done <- result{acks, err}
	}()
	for _, c := range []*fakeConn{a, b} {
		q := c.expectPrefix(t, "451-")
		if bin := c.next(t); !bin.Binary || string(bin.Data) != "\x07" {
			t.Fatalf("attachment %q", bin.Data)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(q, "451-"), `["raw",1.50,{"_placeholder":true,"num":0}]`)
		c.recv("3" + id + `["ok"]`)
	}
	if r := <-done; r.err != nil || len(r.acks) != 2 {
		t.Fatalf("EmitRawWithAck = %d acks, %v", len(r.acks), r.err)
	}

	// A recipient that disconnects is not waited for, even without a
	// deadline.
	go func() {
		acks, err := s.Sockets().EmitWithAck(context.Background(), "poll3")
		done <- result{acks, err}
	}()
	q = a.expectPrefix(t, "42")
	b.expect(t, q)
	id = strings.TrimSuffix(strings.TrimPrefix(q, "42"), `["poll3"]`)
	b.Close("transport close")
	a.recv("3" + id + `["a"]`)
	select {
	case r := <-done:
		if r.err != nil || len(r.acks) != 1 {
			t.Fatalf("EmitWithAck = %d acks, %v", len(r.acks), r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EmitWithAck still waits for a disconnected recipient")
	}
}

func TestDisconnectReasons(t *testing.T) {
	var rs reasons
	s := newTestServer(t, Config{})
	socks := make(chan *Socket, 1)
	s.OnConnection(func(so *Socket) {
		so.OnDisconnect(rs.hook)
		so.On("boom", func(*Socket, *Event) { panic("boom") })
		socks <- so
	})
	s.Of("/other").OnConnection(func(so *Socket) { so.OnDisconnect(rs.hook); socks <- so })

	setup := func(t *testing.T) (*fakeConn, *Socket) {
		c := dial(t, s)
		connect(t, c, "/")
		return c, <-socks
	}
	t.Run("client namespace disconnect", func(t *testing.T) {
		c, so := setup(t)
		c.recv("1")
		rs.wait(t, so.ID(), ReasonClientDisconnect)
	})
	t.Run("server namespace disconnect", func(t *testing.T) {
		c, so := setup(t)
		so.Disconnect(false)
		c.expect(t, "41")
		rs.wait(t, so.ID(), ReasonServerDisconnect)
		if closed, _ := c.isClosed(); closed {
			t.Error("connection closed")
		}
	})
	t.Run("forced server close", func(t *testing.T) {
		c, so := setup(t)
		connect(t, c, "/other")
		other := <-socks
		so.Disconnect(true)
		c.expect(t, "41")
		c.expect(t, "41/other,")
		rs.wait(t, so.ID(), ReasonServerDisconnect)
		rs.wait(t, other.ID(), ReasonServerDisconnect)
		if _, reason := c.isClosed(); reason != ReasonForcedServerClose {
			t.Errorf("conn closed with %q", reason)
		}
	})
	t.Run("transport close", func(t *testing.T) {
		c, so := setup(t)
		c.Close(ReasonTransportClose)
		rs.wait(t, so.ID(), ReasonTransportClose)
	})
	t.Run("parse error", func(t *testing.T) {
		c, so := setup(t)
		c.recv(`2["unterminated"`)
		rs.wait(t, so.ID(), ReasonParseError)
		if _, reason := c.isClosed(); reason != ReasonParseError {
			t.Errorf("conn closed with %q", reason)
		}
	})
	t.Run("handler panic", func(t *testing.T) {
		c, so := setup(t)
		before := s.Stats().HandlerPanics
		c.recv(`2["boom"]`)
		c.expect(t, "41")
		rs.wait(t, so.ID(), ReasonServerDisconnect)
		if s.Stats().HandlerPanics != before+1 {
			t.Error("panic not counted")
		}
	})
	t.Run("unconnected namespace ignored", func(t *testing.T) {
		c, _ := setup(t)
		c.recv(`2/other,["x"]`)
		c.recv(`2/other,1["x"]`)
		if closed, _ := c.isClosed(); closed || len(c.pending()) != 0 {
			t.Errorf("closed %v, frames %q", closed, c.pending())
		}
	})
	t.Run("server shutting down", func(t *testing.T) {
		s2 := newTestServer(t, Config{})
		ids := make(chan string, 1)
		s2.OnConnection(func(so *Socket) { so.OnDisconnect(rs.hook); ids <- so.ID() })
		c := dial(t, s2)
		connect(t, c, "/")
		id := <-ids
		if err := s2.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		rs.wait(t, id, ReasonServerShuttingDown)
		if closed, _ := c.isClosed(); !closed {
			t.Error("connection open after Shutdown")
		}
	})
}

// TestConnectTimeout runs on synctest's fake clock: the idle connection is
// closed exactly at ConnectTimeout, the connected one never.
func TestConnectTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Millisecond
		s := newTestServer(t, Config{ConnectTimeout: timeout})
		start := time.Now()
		idle := dial(t, s)
		active := dial(t, s)
		connect(t, active, "/")

		time.Sleep(time.Until(start.Add(timeout)) - time.Nanosecond)
		synctest.Wait()
		if closed, _ := idle.isClosed(); closed {
			t.Fatalf("closed after %v, before ConnectTimeout", time.Since(start))
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if closed, reason := idle.isClosed(); !closed || reason != ReasonForcedClose {
			t.Fatalf("at ConnectTimeout: closed %v, reason %q", closed, reason)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if closed, _ := active.isClosed(); closed {
			t.Error("a connected client was timed out")
		}
	})
}

func TestEventQueueBound(t *testing.T) {
	pad := `"` + strings.Repeat("x", 400) + `"`
	for _, tt := range []struct {
		name  string
		cfg   Config
		event string
	}{
		{"by count", Config{MaxPendingEvents: 2}, `2["slow"]`},
		{"by bytes", Config{MaxPendingBytes: 1000}, `2["slow",` + pad + `]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.cfg)
			release := make(chan struct{})
			s.OnConnection(func(so *Socket) {
				so.On("slow", func(*Socket, *Event) { <-release })
			})
			c := dial(t, s)
			connect(t, c, "/")
			for range 5 {
				c.recv(tt.event)
			}
			c.expect(t, "41")
			close(release)
		})
	}
	t.Run("one event over the byte bound", func(t *testing.T) {
		s := newTestServer(t, Config{MaxPendingBytes: 100})
		got := make(chan int, 1)
		s.OnConnection(func(so *Socket) {
			so.On("big", func(_ *Socket, ev *Event) { got <- len(ev.Data) })
		})
		c := dial(t, s)
		connect(t, c, "/")
		c.recv(`2["big",` + pad + `]`)
		select {
		case n := <-got:
			if n < 400 {
				t.Fatalf("event of %d bytes", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the event was not handled")
		}
		if p := c.pending(); len(p) != 0 {
			t.Fatalf("sent %q", p)
		}
	})
}

func TestInlineHandlers(t *testing.T) {
	s := newTestServer(t, Config{InlineHandlers: true})
	var mu sync.Mutex
	var seen []string
	record := func(name string) {
		mu.Lock()
		seen = append(seen, name)
		mu.Unlock()
	}
	s.OnConnection(func(so *Socket) {
		so.On("echo", func(so *Socket, ev *Event) {
			record("echo")
			ev.AckRaw([]byte("["+string(joinArgs(ev.Args()))+"]"), nil)
		})
		so.On("boom", func(*Socket, *Event) { panic("boom") })
		so.OnDisconnect(func(_ *Socket, reason string) { record("disconnect " + reason) })
	})
	c := dial(t, s)
	connect(t, c, "/")

	t.Run("runs on the read path, in order", func(t *testing.T) {
		for _, id := range []string{"1", "2", "3"} {
			c.recv(`2` + id + `["echo","` + id + `"]`)
		}
		// Inline: each handler ran before recv returned.
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n != 3 {
			t.Fatalf("%d handlers ran before recv returned, want 3", n)
		}
		for _, id := range []string{"1", "2", "3"} {
			c.expect(t, `43`+id+`["`+id+`"]`)
		}
	})
	t.Run("a panic disconnects the socket", func(t *testing.T) {
		c2 := dial(t, s)
		connect(t, c2, "/")
		c2.recv(`2["boom"]`)
		c2.expect(t, "41")
		waitFor(t, "disconnect handler", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(seen, "disconnect "+ReasonServerDisconnect)
		})
	})
}

// TestJoinInMiddleware checks that rooms joined (and left) in middleware,
// before the socket connected, apply once it connects, after its ID room.
func TestJoinInMiddleware(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Use(func(so *Socket) error {
		so.Join("a", "b", "c")
		so.Leave("b")
		return nil
	})
	socks := make(chan *Socket, 1)
	s.OnConnection(func(so *Socket) { socks <- so })
	c := dial(t, s)
	connect(t, c, "/")
	so := <-socks
	if rooms, want := so.Rooms(), []string{so.ID(), "a", "c"}; !slices.Equal(rooms, want) {
		t.Fatalf("Rooms = %v, want %v", rooms, want)
	}
	if err := s.Sockets().To("a").Emit("hi"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `42["hi"]`)
}

// TestShutdownWhileServerSideEventsArrive delivers server-side events, as a
// Redis subscriber does until the adapters close, while Shutdown waits for
// the server's goroutines: no goroutine may start unseen by that wait (the
// race detector checks WaitGroup.Add against Wait).
func TestShutdownWhileServerSideEventsArrive(t *testing.T) {
	for range 20 {
		s := newTestServer(t, Config{})
		s.Sockets().OnServerSideEmit("tick", func(*ServerEvent) {})
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			l := local{s.Sockets()}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l.ServerSideEmit(json.RawMessage(`["tick"]`), nil)
				if i%8 == 0 {
					runtime.Gosched()
				}
			}
		}()
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-done
	}
}

// TestShutdownWaitsForHandlers: Shutdown returns once the handlers still
// running have returned, or, when its context ends first, with the
// context's error while they run on (http.Server.Shutdown's contract).
func TestShutdownWaitsForHandlers(t *testing.T) {
	// slowServer has a socket whose handler runs until release is closed.
	slowServer := func(t *testing.T) (s *Server, c *fakeConn, release chan struct{}, ended *atomic.Bool) {
		s = newTestServer(t, Config{})
		started, release, ended := make(chan struct{}), make(chan struct{}), new(atomic.Bool)
		s.OnConnection(func(so *Socket) {
			so.On("slow", func(*Socket, *Event) {
				close(started)
				<-release
				ended.Store(true)
			})
		})
		c = dial(t, s)
		connect(t, c, "/")
		c.recv(`2["slow"]`)
		<-started
		return s, c, release, ended
	}

	t.Run("until the handlers return", func(t *testing.T) {
		s, c, release, ended := slowServer(t)
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(context.Background()) }()
		waitFor(t, "Shutdown to close the connection", func() bool { closed, _ := c.isClosed(); return closed })
		time.Sleep(20 * time.Millisecond) // Shutdown goes on to wait
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned (%v) while a handler was running", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if !ended.Load() {
			t.Fatal("Shutdown returned before the handler did")
		}
	})

	t.Run("until the context ends", func(t *testing.T) {
		s, _, release, ended := slowServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
		}
		close(release) // the handler runs on to its end
		waitFor(t, "the handler to return", ended.Load)
	})
}

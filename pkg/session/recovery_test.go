package session

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// connectRecover connects to "/" with auth and returns the CONNECT payload.
func connectRecover(t *testing.T, url, auth string) (c *wsClient, sid, pid string) {
	t.Helper()
	c = dialWS(t, url)
	c.send("0" + auth)
	m := c.expectPrefix(`0{"sid":"`)
	var p struct{ SID, PID string }
	if err := json.Unmarshal([]byte(m[1:]), &p); err != nil {
		t.Fatalf("CONNECT %q: %v", m, err)
	}
	return c, p.SID, p.PID
}

// lastArg returns the offset, the last argument of an event message.
func lastArg(t *testing.T, msg string) string {
	t.Helper()
	off := adapter.LastOffset([]byte(strings.TrimPrefix(msg, "2")))
	if off == "" {
		t.Fatalf("no offset in %q", msg)
	}
	return off
}

func TestRecoveryMemory(t *testing.T) {
	const d = 400 * time.Millisecond
	s, url := newE2E(t, Config{Recovery: RecoveryConfig{MaxDisconnection: d}})
	mwCalls := 0
	s.Use(func(so *Socket) error { mwCalls++; return nil })
	connected := make(chan *Socket, 4)
	s.OnConnection(func(so *Socket) {
		if !so.Recovered() {
			so.Join("room1")
			so.SetData(map[string]int{"n": 1})
		}
		connected <- so
	})

	c, sid, pid := connectRecover(t, url, "")
	if sid == "" || pid == "" || sid == pid {
		t.Fatalf("CONNECT sid %q pid %q", sid, pid)
	}
	so := <-connected
	s.To("room1").Emit("news", 1)
	off := lastArg(t, c.expectPrefix(`2["news",1,"`))
	s.Sockets().Volatile().Emit("vol", 1)
	c.expect(`2["vol",1]`) // volatile: no offset
	so.Emit("direct", 1)
	c.expect(`2["direct",1]`) // not a broadcast: no offset

	// The transport is cut (no DISCONNECT): the session is stored.
	c.ws.CloseNow()
	waitFor(t, "the socket to close", func() bool { return !so.Connected() })
	s.To("room1").Emit("news", 2)
	s.To("other").Emit("elsewhere", 0)
	s.Except("room1").Emit("except", 0)
	s.Emit("news", 3)
	waitFor(t, "the session to be stored", func() bool { return s.RecoveryStats().Stored == 1 })

	auth := fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, off)
	c2, sid2, pid2 := connectRecover(t, url, auth)
	if sid2 != sid || pid2 != pid {
		t.Fatalf("recovered as sid %q pid %q, want %q %q", sid2, pid2, sid, pid)
	}
	so2 := <-connected
	if !so2.Recovered() || so2.ID() != sid {
		t.Fatalf("Recovered() %v ID %q", so2.Recovered(), so2.ID())
	}
	c2.expectPrefix(`2["news",2,"`)
	last := lastArg(t, c2.expectPrefix(`2["news",3,"`))
	if got := fmt.Sprint(so2.Rooms()); !strings.Contains(got, "room1") {
		t.Fatalf("rooms %v", got)
	}
	if v, _ := so2.Data().(map[string]int); v["n"] != 1 {
		t.Fatalf("data %v", so2.Data())
	}
	if mwCalls != 1 {
		t.Fatalf("middleware ran %d times, want 1 (recovered sockets skip it)", mwCalls)
	}
	st := s.RecoveryStats()
	if st.Attempts != 1 || st.Outcomes[RecoveryRecovered] != 1 || st.Replayed != 2 {
		t.Fatalf("stats %+v", st)
	}

	// A session restores once.
	c2.ws.CloseNow()
	waitFor(t, "the socket to close", func() bool { return !so2.Connected() })
	waitFor(t, "the session to be stored", func() bool { return s.RecoveryStats().Stored == 2 })
	c3, sid3, _ := connectRecover(t, url, fmt.Sprintf(`{"pid":%q,"offset":"bogus"}`, pid))
	<-connected
	if sid3 == sid {
		t.Fatal("recovered with a bogus offset")
	}
	c3.ws.CloseNow()
	_, sid4, _ := connectRecover(t, url, fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, last))
	<-connected
	if sid4 == sid {
		t.Fatal("a session restored twice")
	}

	// After MaxDisconnection, a new socket.
	c5, sid5, pid5 := connectRecover(t, url, "")
	so5 := <-connected
	s.Emit("news", 4)
	off5 := lastArg(t, c5.expectPrefix(`2["news",4,"`))
	c5.ws.CloseNow()
	waitFor(t, "the socket to close", func() bool { return !so5.Connected() })
	time.Sleep(d + 100*time.Millisecond) // the expiry itself is what is tested
	_, sid6, _ := connectRecover(t, url, fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid5, off5))
	<-connected
	if sid6 == sid5 {
		t.Fatal("recovered after MaxDisconnection")
	}
	st = s.RecoveryStats()
	if st.Outcomes[RecoveryExpired] != 1 || st.Outcomes[RecoveryInvalid] != 1 || st.Outcomes[RecoveryUnknownSession] != 1 {
		t.Fatalf("outcomes %v", st.Outcomes)
	}
}

func TestRecoveryCleanDisconnectStoresNothing(t *testing.T) {
	s, url := newE2E(t, Config{Recovery: RecoveryConfig{MaxDisconnection: time.Minute}})
	connected := make(chan *Socket, 2)
	s.OnConnection(func(so *Socket) { connected <- so })
	c, _, pid := connectRecover(t, url, "")
	so := <-connected
	s.Emit("x")
	off := lastArg(t, c.expectPrefix(`2["x","`))
	c.send("1")
	waitFor(t, "the socket to close", func() bool { return !so.Connected() })
	_, _, pid2 := connectRecover(t, url, fmt.Sprintf(`{"pid":%q,"offset":%q}`, pid, off))
	<-connected
	if pid2 == pid {
		t.Fatal("recovered after a clean disconnect")
	}
}

func TestRecoveryNeedsRecoverer(t *testing.T) {
	_, err := newServer(Config{Adapter: noRecoveryAdapter{adapter.NewMemory()}, Recovery: RecoveryConfig{MaxDisconnection: time.Second}})
	if err == nil || !strings.Contains(err.Error(), "does not support connection state recovery") {
		t.Fatalf("err %v", err)
	}
	if _, err := newServer(Config{Recovery: RecoveryConfig{MaxDisconnection: time.Second, Persist: "sometimes"}}); err == nil {
		t.Fatal("bad Persist accepted")
	}
}

type noRecoveryAdapter struct{ adapter.Adapter }

func (a noRecoveryAdapter) Namespace(l adapter.Local) (adapter.Namespace, error) {
	n, err := a.Adapter.Namespace(l)
	return struct{ adapter.Namespace }{n}, err
}

// gatedNamespace holds MissedPackets until the test lets it go.
type gatedNamespace struct {
	countingNamespace
	entered, proceed chan struct{}
}

type gatedAdapter struct {
	*countingAdapter
	gates chan *gatedNamespace
}

func (a gatedAdapter) Namespace(l adapter.Local) (adapter.Namespace, error) {
	n, err := a.countingAdapter.Namespace(l)
	g := &gatedNamespace{countingNamespace: n.(countingNamespace), entered: make(chan struct{}, 1), proceed: make(chan struct{})}
	a.gates <- g
	return g, err
}

func (g *gatedNamespace) MissedPackets(ctx context.Context, offset string, rooms []string) ([]*socketio.Packet, error) {
	g.entered <- struct{}{}
	<-g.proceed
	return g.countingNamespace.MissedPackets(ctx, offset, rooms)
}

// Broadcasts that reach a recovering socket while its missed packets are
// read are held, and those the history also has are sent once, in order.
func TestRecoveryHoldsLiveDeliveries(t *testing.T) {
	ga := gatedAdapter{&countingAdapter{Adapter: adapter.NewMemory()}, make(chan *gatedNamespace, 1)}
	s, url := newE2E(t, Config{Adapter: ga, Recovery: RecoveryConfig{MaxDisconnection: time.Minute}})
	t.Cleanup(func() { ga.Close() })
	gate := <-ga.gates
	connected := make(chan *Socket, 2)
	s.OnConnection(func(so *Socket) {
		if !so.Recovered() {
			so.Join("r")
		}
		connected <- so
	})
	c, _, pid := connectRecover(t, url, "")
	so := <-connected
	s.To("r").Emit("e", 1)
	off := lastArg(t, c.expectPrefix(`2["e",1,"`))
	c.ws.CloseNow()
	waitFor(t, "the session to be stored", func() bool { return !so.Connected() && ga.writes.Load() == 1 })
	s.To("r").Emit("e", 2) // missed

	c2 := dialWS(t, url)
	c2.send(fmt.Sprintf(`0{"pid":%q,"offset":%q}`, pid, off))
	<-gate.entered // in its rooms, its missed packets not read yet
	s.To("r").Emit("e", 3)
	s.Sockets().Volatile().Emit("v", 0)
	close(gate.proceed)
	c2.expectPrefix(`0{"sid":"`)
	<-connected
	c2.expectPrefix(`2["e",2,"`)
	c2.expectPrefix(`2["e",3,"`) // from the history; the held copy is dropped
	c2.expect(`2["v",0]`)        // held, not in the history
	s.To("r").Emit("e", 4)
	c2.expectPrefix(`2["e",4,"`)
}

// PersistEager stores a session at connect and after a room change, and
// forgets it after a clean disconnect.
func TestRecoveryEager(t *testing.T) {
	ca := &countingAdapter{Adapter: adapter.NewMemory()}
	t.Cleanup(func() { ca.Close() })
	s, url := newE2E(t, Config{Adapter: ca, Recovery: RecoveryConfig{
		MaxDisconnection: time.Minute, Persist: PersistEager, EagerFlush: 20 * time.Millisecond}})
	connected := make(chan *Socket, 1)
	s.OnConnection(func(so *Socket) { connected <- so })
	c, _, _ := connectRecover(t, url, "")
	so := <-connected
	waitFor(t, "the connect-time write", func() bool { return ca.writes.Load() == 1 })
	so.Join("r1")
	waitFor(t, "the write after a join", func() bool { return ca.writes.Load() == 2 })
	so.SetData("x")
	waitFor(t, "the write after SetData", func() bool { return ca.writes.Load() == 3 })
	c.send("1") // clean disconnect
	waitFor(t, "the session to be deleted", func() bool { return ca.deletes.Load() == 1 })
	if st := s.RecoveryStats(); st.Stored != 3 {
		t.Fatalf("stored %d, want 3", st.Stored)
	}
}

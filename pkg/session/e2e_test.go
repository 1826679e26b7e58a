package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is a tiny Socket.IO client over a real websocket: it answers
// Engine.IO pings and hands every other message (without the "4") to msgs.
type wsClient struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan wsMsg
	done chan struct{}
}

type wsMsg struct {
	data   string
	binary bool
}

func newE2E(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		hs.Close()
	})
	return s, "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{t: t, ws: ws, msgs: make(chan wsMsg, 64), done: make(chan struct{})}
	_, open, err := ws.Read(ctx)
	if err != nil || open[0] != '0' {
		t.Fatalf("open packet %q: %v", open, err)
	}
	go c.readLoop()
	t.Cleanup(func() {
		ws.CloseNow()
		<-c.done
	})
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			close(c.msgs)
			return
		}
		if typ == websocket.MessageBinary {
			c.msgs <- wsMsg{string(data), true}
			continue
		}
		switch data[0] {
		case '2':
			c.ws.Write(context.Background(), websocket.MessageText, []byte("3"))
		case '4':
			c.msgs <- wsMsg{string(data[1:]), false}
		}
	}
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte("4"+text)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) next() wsMsg {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatal("connection closed")
		}
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatal("timed out waiting for a message")
	}
	return wsMsg{}
}

func (c *wsClient) expect(want string) {
	c.t.Helper()
	if m := c.next(); m.binary || m.data != want {
		c.t.Fatalf("got %q (binary %v), want %q", m.data, m.binary, want)
	}
}

func (c *wsClient) expectPrefix(prefix string) string {
	c.t.Helper()
	m := c.next()
	if m.binary || !strings.HasPrefix(m.data, prefix) {
		c.t.Fatalf("got %q, want prefix %q", m.data, prefix)
	}
	return m.data
}

// waitClosed waits until the server closes the websocket.
func (c *wsClient) waitClosed() {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return
			}
		case <-time.After(5 * time.Second):
			c.t.Fatal("connection still open")
		}
	}
}

func TestE2E(t *testing.T) {
	var rs reasons
	s, url := newE2E(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 2 * time.Second})
	s.Of("/private").Use(func(*Socket) error {
		return &ConnectError{Message: "unauthorized", Data: map[string]string{"hint": "token"}}
	})
	ids := make(chan string, 8)
	s.OnConnection(func(so *Socket) {
		so.OnDisconnect(rs.hook)
		so.On("join", func(so *Socket, ev *Event) {
			var room string
			if err := ev.Decode(0, &room); err != nil || room == "" {
				ev.Ack(map[string]string{"error": "bad room"})
				return
			}
			so.Join(room)
			ev.Ack(true)
		})
		so.On("message", func(so *Socket, ev *Event) {
			s.To(so.Rooms()...).Except(so.ID()).EmitRaw(ev.Data, ev.Attachments)
		})
		so.On("echo", func(so *Socket, ev *Event) {
			ev.AckRaw([]byte("["+string(joinArgs(ev.Args()))+"]"), ev.Attachments)
		})
		so.On("ask", func(so *Socket, ev *Event) {
			reply, err := so.EmitWithAck(t.Context(), "question", []byte{9, 8})
			if err != nil {
				ev.Ack(err.Error())
				return
			}
			var v string
			reply.Decode(0, &v)
			ev.Ack("got " + v)
		})
		ids <- so.ID()
	})

	t.Run("refused", func(t *testing.T) {
		c := dialWS(t, url)
		c.send("0/nope,")
		c.expect(`4/nope,{"message":"Invalid namespace"}`)
		c.send("0/private,")
		c.expect(`4/private,{"message":"unauthorized","data":{"hint":"token"}}`)
	})

	t.Run("events acks binary", func(t *testing.T) {
		c := dialWS(t, url)
		c.send(`0{"token":"x"}`)
		c.expectPrefix(`0{"sid":"`)
		<-ids
		time.Sleep(250 * time.Millisecond) // a few ping rounds pass
		c.send(`21["echo","a",9007199254740993,{"z":1,"a":2}]`)
		c.expect(`31["a",9007199254740993,{"z":1,"a":2}]`)
		c.send(`51-2["echo",{"_placeholder":true,"num":0}]`)
		c.sendBinary([]byte{0, 1, 2})
		c.expect(`61-2[{"_placeholder":true,"num":0}]`)
		if m := c.next(); !m.binary || m.data != "\x00\x01\x02" {
			t.Fatalf("attachment %q", m.data)
		}
		c.send(`23["ask"]`)
		q := c.expectPrefix("51-")
		if m := c.next(); !m.binary || m.data != "\x09\x08" {
			t.Fatalf("attachment %q", m.data)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(q, "51-"), `["question",{"_placeholder":true,"num":0}]`)
		c.send("3" + id + `["yes"]`)
		c.expect(`33["got yes"]`)
	})

	t.Run("rooms", func(t *testing.T) {
		var cs []*wsClient
		for range 3 {
			c := dialWS(t, url)
			c.send("0")
			c.expectPrefix(`0{"sid":"`)
			<-ids
			cs = append(cs, c)
		}
		for _, c := range cs[:2] {
			c.send(`21["join","chat"]`)
			c.expect(`31[true]`)
		}
		cs[2].send(`21["join",""]`)
		cs[2].expect(`31[{"error":"bad room"}]`)
		cs[0].send(`2["message","hi <b>",1.50]`)
		cs[1].expect(`2["message","hi <b>",1.50]`)
		s.Emit("all", 1)
		for _, c := range cs {
			c.expect(`2["all",1]`) // cs[0] and cs[2] never got "message"
		}
	})

	t.Run("disconnect reasons", func(t *testing.T) {
		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id := <-ids
		c.send("1")
		rs.wait(t, id, ReasonClientDisconnect)

		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id = <-ids
		c.ws.Close(websocket.StatusNormalClosure, "")
		rs.wait(t, id, ReasonTransportClose)

		c = dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id = <-ids
		c.send(`2["bad`)
		rs.wait(t, id, ReasonParseError)
		c.waitClosed()
	})

	t.Run("broadcast ack timeout", func(t *testing.T) {
		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id := <-ids
		_, err := s.To(id).Timeout(50*time.Millisecond).EmitWithAck(t.Context(), "silent")
		var te interface{ Error() string }
		if err == nil || !errors.As(err, &te) {
			t.Fatalf("err = %v", err)
		}
		c.expectPrefix(`2`)
	})

	t.Run("shutdown", func(t *testing.T) {
		s2, url2 := newE2E(t, Config{})
		ids2 := make(chan string, 1)
		s2.OnConnection(func(so *Socket) { so.OnDisconnect(rs.hook); ids2 <- so.ID() })
		c := dialWS(t, url2)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		id := <-ids2
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s2.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		rs.wait(t, id, ReasonServerShuttingDown)
		c.waitClosed()
	})
}

func TestCloseConnections(t *testing.T) {
	s, url := newE2E(t, Config{})
	var cs []*wsClient
	for range 3 {
		c := dialWS(t, url)
		c.send("0")
		c.expectPrefix(`0{"sid":"`)
		cs = append(cs, c)
	}
	if n := s.CloseConnections(2); n != 2 {
		t.Fatalf("CloseConnections(2) = %d, want 2", n)
	}
	// The two closed ones are not picked again, even before they are gone.
	if n := s.CloseConnections(5); n != 1 {
		t.Fatalf("second CloseConnections(5) = %d, want 1", n)
	}
	for _, c := range cs { // closed without a DISCONNECT packet, so clients reconnect
		for m := range c.msgs {
			if strings.HasPrefix(m.data, "1") {
				t.Fatalf("got DISCONNECT packet %q", m.data)
			}
		}
	}
	if n := s.CloseConnections(1); n != 0 {
		t.Fatalf("CloseConnections after all closed = %d, want 0", n)
	}
	if st := s.EngineStats(); st.OpenWebSocket != 0 {
		t.Fatalf("EngineStats().OpenWebSocket = %d after closing all, want 0", st.OpenWebSocket)
	}
}

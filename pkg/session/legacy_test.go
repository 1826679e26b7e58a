package session

import (
	"errors"
	"testing"
)

func TestLegacyClient(t *testing.T) {
	s := newTestServer(t, Config{AllowEIO3: true})
	s.Of("/admin").Use(func(s *Socket) error { return errors.New("not allowed") })
	s.Of("/vip").Use(func(s *Socket) error {
		return &ConnectError{Message: "need token", Data: map[string]int{"code": 42}}
	})
	type conn struct{ id, auth string }
	connected := make(chan conn, 4)
	onConnection := func(so *Socket) { connected <- conn{so.ID(), string(so.Handshake().Auth)} }
	s.OnConnection(onConnection)
	s.Of("/chat").OnConnection(onConnection)

	c := dialProtocol(t, s, true)
	// In "/" at once, without a CONNECT from the client, and the server's
	// CONNECT has no payload; the socket is named after the connection.
	c.expect(t, "40")
	if got := <-connected; got.id != c.id || got.auth != "" {
		t.Fatalf("main socket %+v", got)
	}
	// A namespace's query is its auth.
	c.recv("0/chat?token=abc&tag=a&tag=b,")
	c.expect(t, "40/chat,")
	if got := <-connected; got.id != "/chat#"+c.id || got.auth != `{"tag":["a","b"],"token":"abc"}` {
		t.Fatalf("/chat socket %+v", got)
	}
	// Packets name the namespace without the query.
	c.recv(`2/chat,["x"]`)

	tests := []struct{ name, send, want string }{
		{"unknown namespace", "0/nope?x=1,", `44/nope,{"message":"Invalid namespace"}`},
		{"middleware error", "0/admin,", `44/admin,"not allowed"`},
		{"middleware error with data", "0/vip,", `44/vip,{"code":42}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.recv(tt.send)
			c.expect(t, tt.want)
		})
	}
	if closed, _ := c.isClosed(); closed {
		t.Fatal("connection closed")
	}
}

func TestModernClientUnchanged(t *testing.T) {
	s := newTestServer(t, Config{AllowEIO3: true})
	c := dial(t, s)
	connect(t, c, "/") // a v4 client still sends CONNECT and gets its sid
}

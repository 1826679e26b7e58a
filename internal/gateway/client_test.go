package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is a minimal Socket.IO client over a raw websocket, speaking the
// wire format directly, so that tests see the exact bytes the gateway sends.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	sid  string
}

func dial(t *testing.T, srv *httptest.Server) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	if _, open := c.read(); !strings.HasPrefix(open, `0{"sid":`) {
		t.Fatalf("open packet %q", open)
	}
	c.send("40")
	_, connect := c.read()
	if !strings.HasPrefix(connect, `40{"sid":"`) {
		t.Fatalf("connect packet %q", connect)
	}
	c.sid = strings.TrimSuffix(strings.TrimPrefix(connect, `40{"sid":"`), `"}`)
	return c
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		c.t.Fatalf("write %q: %v", text, err)
	}
}

func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.t.Fatalf("write binary: %v", err)
	}
}

// read returns the next frame that is not a ping (pings are answered).
func (c *wsClient) read() (binary bool, data string) {
	c.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		typ, b, err := c.conn.Read(ctx)
		cancel()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if typ == websocket.MessageText && string(b) == "2" {
			c.send("3")
			continue
		}
		return typ == websocket.MessageBinary, string(b)
	}
}

// expect reads the next frame and checks it is the text frame want.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	if _, got := c.read(); got != want {
		c.t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// expectSet reads len(want) text frames and checks they are want, in any order.
func (c *wsClient) expectSet(want ...string) {
	c.t.Helper()
	left := map[string]int{}
	for _, w := range want {
		left[w]++
	}
	for range want {
		_, got := c.read()
		if left[got] == 0 {
			c.t.Fatalf("unexpected frame %q; want %q", got, want)
		}
		left[got]--
	}
}

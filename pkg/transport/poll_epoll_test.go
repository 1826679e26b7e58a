//go:build linux && !sockgate_portable

package transport

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// parkedCount is the number of websockets waiting in the poller.
func (s *Server) parkedCount() int {
	s.poller.mu.Lock()
	defer s.poller.mu.Unlock()
	return len(s.poller.parked)
}

// readerGoroutines counts goroutines of this package's websocket readers.
func readerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "transport.(*Conn).readLoop") {
			n++
		}
	}
	return n
}

func TestWebSocketQuietSessionIsParked(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn)
	}{
		{"client sends a message", func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn) {
			write(t, ws, websocket.MessageText, "4wake")
			if m := ts.rec.waitMessage(t); m.data != "wake" {
				t.Fatalf("got %+v", m)
			}
			if _, s := read(t, ws); s != "4wake" {
				t.Fatalf("echo %q", s)
			}
			_ = ws.Close(websocket.StatusNormalClosure, "")
			if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
				t.Fatalf("reason %q", e.reason)
			}
		}},
		{"client closes", func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn) {
			_ = ws.Close(websocket.StatusNormalClosure, "")
			if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
				t.Fatalf("reason %q", e.reason)
			}
		}},
		{"client drops TCP", func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn) {
			_ = ws.CloseNow()
			if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose && e.reason != ReasonTransportError {
				t.Fatalf("reason %q", e.reason)
			}
		}},
		{"server closes", func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn) {
			c.Close(ReasonForcedClose)
			if err := readClosed(t, ws); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("close: %v", err)
			}
			ts.rec.waitClose(t)
		}},
		{"server shuts down", func(t *testing.T, ts *testServer, c *Conn, ws *websocket.Conn) {
			go func() { _, _, _ = ws.Read(t.Context()) }() // the client answers the close handshake
			if err := ts.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			if e := ts.rec.waitClose(t); e.reason != ReasonServerShutdown {
				t.Fatalf("reason %q", e.reason)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})
			ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
			read(t, ws)
			c := ts.rec.waitOpen(t)
			write(t, ws, websocket.MessageText, "4hi")
			ts.rec.waitMessage(t)
			read(t, ws)
			checkFor(t, 5*time.Second, "parked", func() bool { return ts.parkedCount() == 1 })
			if n := readerGoroutines(); n != 0 {
				t.Fatalf("%d reader goroutines for a parked session", n)
			}
			tt.end(t, ts, c, ws)
			checkFor(t, 5*time.Second, "nothing parked", func() bool { return ts.parkedCount() == 0 })
			checkFor(t, 5*time.Second, "no websocket tracked", func() bool {
				ts.wsMu.Lock()
				defer ts.wsMu.Unlock()
				return len(ts.wsSet) == 0
			})
		})
	}
}

func TestWebSocketBusySessionKeepsAReader(t *testing.T) {
	ts := newTestServer(t, Config{})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	ts.rec.waitOpen(t)
	for _, m := range []string{"4a", "4b"} { // two messages within busyGap
		write(t, ws, websocket.MessageText, m)
		ts.rec.waitMessage(t)
		read(t, ws)
	}
	checkFor(t, 5*time.Second, "a reader goroutine", func() bool { return readerGoroutines() == 1 })
	if n := ts.parkedCount(); n != 0 {
		t.Fatalf("%d parked, want the busy session in a goroutine", n)
	}
}

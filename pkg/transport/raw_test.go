package transport

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// clientFrame encodes a masked client text frame (payload < 126 bytes).
func clientFrame(payload string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i := 0; i < len(payload); i++ {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// TestWebSocketEarlyAndCoalescedFrames sends frames in the same TCP write as
// the handshake request, and several frames per write: none may be lost to
// net/http's buffered reader or to the server's read buffering.
func TestWebSocketEarlyAndCoalescedFrames(t *testing.T) {
	ts := newTestServer(t, Config{})
	addr := strings.TrimPrefix(ts.ts.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	first := append([]byte(req), clientFrame("4early")...)
	if _, err := nc.Write(first); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	ts.rec.waitOpen(t)
	var burst []byte
	for _, s := range []string{"4a", "4bb", "4ccc", strings.Repeat("4", 120)} {
		burst = append(burst, clientFrame(s)...)
	}
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"early", "a", "bb", "ccc", strings.Repeat("4", 119)} {
		if m := ts.rec.waitMessage(t); m.data != want {
			t.Fatalf("got %q, want %q", m.data, want)
		}
	}
	// The open packet and the echoes arrive as server frames.
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 2)
	for i := 0; i < 6; i++ {
		if _, err := io.ReadFull(br, hdr); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			ext := make([]byte, 2)
			_, _ = io.ReadFull(br, ext)
			n = int(ext[0])<<8 | int(ext[1])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		if i == 0 && payload[0] != '0' || i == 1 && string(payload) != "4early" {
			t.Fatalf("frame %d: %q", i, payload)
		}
	}
}

// rawWebSocket completes a websocket handshake by hand and reads the open
// packet.
func rawWebSocket(t *testing.T, ts *testServer) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, br := rawWebSocketQuery(t, ts, "EIO=4&transport=websocket")
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f := readServerFrame(t, br); f.Header.OpCode != ws.OpText || f.Payload[0] != '0' {
		t.Fatalf("open packet: %+v", f)
	}
	return nc, br
}

// rawWebSocketQuery completes a websocket handshake by hand.
func rawWebSocketQuery(t *testing.T, ts *testServer, query string) (net.Conn, *bufio.Reader) {
	t.Helper()
	addr := strings.TrimPrefix(ts.ts.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /socket.io/?" + query + " HTTP/1.1\r\nHost: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return nc, br
}

func readServerFrame(t *testing.T, br *bufio.Reader) ws.Frame {
	t.Helper()
	h, err := ws.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return ws.Frame{Header: h, Payload: p}
}

// TestWebSocketProtocolErrorCloses: a frame that breaks RFC 6455 gets a
// close frame with 1002, then the TCP connection ends; the session closes
// with a transport error and the failure is counted.
func TestWebSocketProtocolErrorCloses(t *testing.T) {
	ts := newTestServer(t, Config{})
	nc, br := rawWebSocket(t, ts)
	ts.rec.waitOpen(t)
	if _, err := nc.Write(frame(true, 0, ws.OpPing, "p1", true)); err != nil {
		t.Fatal(err)
	}
	if f := readServerFrame(t, br); f.Header.OpCode != ws.OpPong || string(f.Payload) != "p1" {
		t.Fatalf("want a pong: %+v", f)
	}
	if _, err := nc.Write(frame(true, 0, ws.OpText, "4unmasked", false)); err != nil {
		t.Fatal(err)
	}
	f := readServerFrame(t, br)
	if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusProtocolError {
		t.Fatalf("want close 1002: %+v", f)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportError {
		t.Fatalf("reason %q", e.reason)
	}
	// The server waits for our close or our end: answer, and end, as
	// clients do.
	if _, err := nc.Write(frame(true, 0, ws.OpClose, string(f.Payload), true)); err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frame: %v, want EOF", err)
	}
	if n := ts.Stats().Errors.WebSocketFrames; n != 1 {
		t.Fatalf("counted %d", n)
	}
}

// TestWebSocketPeerCloseEchoed: the client's close frame is answered with
// its code, and the server ends the connection.
func TestWebSocketPeerCloseEchoed(t *testing.T) {
	ts := newTestServer(t, Config{})
	nc, br := rawWebSocket(t, ts)
	ts.rec.waitOpen(t)
	body := string(ws.NewCloseFrameBody(4001, "bye"))
	if _, err := nc.Write(frame(true, 0, ws.OpClose, body, true)); err != nil {
		t.Fatal(err)
	}
	if f := readServerFrame(t, br); f.Header.OpCode != ws.OpClose || string(f.Payload) != body {
		t.Fatalf("want the close echoed: %+v", f)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frame: %v, want EOF", err)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
		t.Fatalf("reason %q", e.reason)
	}
}

// TestWebSocketCloseHandshake: a websocket the server closes (here the
// second one of an upgraded session, and a session closed by the server)
// gets a close frame with 1000, and its TCP connection ends as soon as the
// client has answered, well within the close handshake's bound.
func TestWebSocketCloseHandshake(t *testing.T) {
	ts := newTestServer(t, Config{})
	check := func(nc net.Conn, br *bufio.Reader) {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(closeWait / 2))
		f := readServerFrame(t, br)
		if code, _ := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != ws.StatusNormalClosure {
			t.Fatalf("want close 1000: %+v", f)
		}
		if _, err := nc.Write(frame(true, 0, ws.OpClose, string(f.Payload), true)); err != nil {
			t.Fatal(err)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the close handshake: %v, want EOF", err)
		}
	}

	nc, br := rawWebSocket(t, ts)
	c := ts.rec.waitOpen(t)
	second, br2 := rawWebSocketQuery(t, ts, "EIO=4&transport=websocket&sid="+c.ID())
	check(second, br2)
	if ts.Stats().Errors.DuplicateWS != 1 {
		t.Fatal("not counted")
	}
	c.Close(ReasonForcedClose)
	check(nc, br)
	if e := ts.rec.waitClose(t); e.reason != ReasonForcedClose {
		t.Fatalf("reason %q", e.reason)
	}
}

// TestWebSocketPingTimeoutCloseFrame: a websocket that stops answering pings
// gets an empty close frame (as engine.io sends) before its connection ends.
func TestWebSocketPingTimeoutCloseFrame(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	_, br := rawWebSocket(t, ts)
	for {
		f := readServerFrame(t, br)
		if f.Header.OpCode == ws.OpText && string(f.Payload) == "2" {
			continue // pings, never answered
		}
		if f.Header.OpCode != ws.OpClose || len(f.Payload) != 0 {
			t.Fatalf("want an empty close frame: %+v", f)
		}
		break
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the close frame: %v, want EOF", err)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonPingTimeout {
		t.Fatalf("reason %q", e.reason)
	}
}

package transport

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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

package transport

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// v3Client is a minimal Engine.IO v3 polling client.
type v3Client struct {
	t    testing.TB
	base string
}

func (ts *testServer) pollHandshakeV3(t testing.TB, query string) (*v3Client, *Conn) {
	t.Helper()
	status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=3&transport=polling"+query, "")
	n, open, ok := strings.Cut(body, ":")
	if status != http.StatusOK || !ok || !strings.HasPrefix(open, "0{") || n != strconv.Itoa(len(open)) {
		t.Fatalf("v3 handshake: %d %q", status, body)
	}
	c := ts.rec.waitOpen(t)
	if c.Protocol() != 3 {
		t.Fatalf("Protocol() = %d", c.Protocol())
	}
	return &v3Client{t: t, base: ts.url + "?EIO=3&transport=polling" + query + "&sid=" + c.ID()}, c
}

// get returns the status, Content-Type and body of a GET.
func (p *v3Client) get() (int, string, string) {
	p.t.Helper()
	resp, err := http.Get(p.base)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func (p *v3Client) post(contentType, body string) int {
	p.t.Helper()
	resp, err := http.Post(p.base, contentType, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestEIO3RefusedByDefault(t *testing.T) {
	ts := newTestServer(t, Config{})
	status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=3&transport=polling", "")
	if status != http.StatusBadRequest || body != `{"code":5,"message":"Unsupported protocol version"}` {
		t.Fatalf("polling: %d %q", status, body)
	}
	if _, resp, err := websocket.Dial(context.Background(), ts.wsURL("?EIO=3&transport=websocket"), nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("websocket: %v", err)
	}
}

func TestEIO3NoJSONP(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=3&transport=polling&j=0", "")
	if status != http.StatusBadRequest || body != `{"code":3,"message":"JSONP polling is not supported"}` {
		t.Fatalf("%d %q", status, body)
	}
}

func TestEIO3Polling(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	p, c := ts.pollHandshakeV3(t, "")
	// Text messages and a client ping in one body; the echo and the pong
	// come back in the v3 framing, lengths in UTF-16 code units.
	if status := p.post("text/plain;charset=UTF-8", "4:4h😀1:2"); status != http.StatusOK {
		t.Fatalf("POST %d", status)
	}
	if m := ts.rec.waitMessage(t); m.data != "h😀" || m.binary {
		t.Fatalf("got %+v", m)
	}
	if status, ctype, body := p.get(); status != 200 || ctype != "text/plain; charset=UTF-8" || body != "4:4h😀1:3" {
		t.Fatalf("GET %d %q %q", status, ctype, body)
	}
	// A binary body: the echo comes back in the binary framing.
	if status := p.post("application/octet-stream", "\x01\x03\xff\x04\x01\x02"); status != http.StatusOK {
		t.Fatalf("binary POST %d", status)
	}
	if m := ts.rec.waitMessage(t); m.data != "\x01\x02" || !m.binary {
		t.Fatalf("got %+v", m)
	}
	if status, ctype, body := p.get(); status != 200 || ctype != "application/octet-stream" || body != "\x01\x03\xff\x04\x01\x02" {
		t.Fatalf("binary GET %d %q %q", status, ctype, body)
	}
	// A base64 binary message in a text body.
	p.post("text/plain;charset=UTF-8", "6:b4AQI=")
	if m := ts.rec.waitMessage(t); m.data != "\x01\x02" || !m.binary {
		t.Fatalf("got %+v", m)
	}
	p.get()
	if st := ts.Stats(); st.Handshakes != 1 || st.HandshakesEIO3 != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A pong from the client is the wrong heartbeat direction.
	p.post("text/plain;charset=UTF-8", "1:3")
	if e := ts.rec.waitClose(t); e.conn != c || e.reason != ReasonTransportError {
		t.Fatalf("close %+v", e)
	}
}

func TestEIO3PollingBase64(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	p, _ := ts.pollHandshakeV3(t, "&b64=1")
	p.post("application/octet-stream", "\x01\x03\xff\x04\x01\x02")
	ts.rec.waitMessage(t)
	if status, ctype, body := p.get(); status != 200 || ctype != "text/plain; charset=UTF-8" || body != "6:b4AQI=" {
		t.Fatalf("GET %d %q %q", status, ctype, body)
	}
	p.post("text/plain", "1:1")
}

func TestEIO3PingTimeout(t *testing.T) {
	const deadline = 600 * time.Millisecond // PingInterval + PingTimeout
	ts := newTestServer(t, Config{AllowEIO3: true, PingInterval: 300 * time.Millisecond, PingTimeout: 300 * time.Millisecond})
	p, c := ts.pollHandshakeV3(t, "")
	start := time.Now()
	// Pings keep the session: the server never pings itself.
	const pings, every = 3, 100 * time.Millisecond
	for i := 0; i < pings; i++ {
		time.Sleep(every) // the client's ping interval, not a wait for the server
		p.post("text/plain", "1:2")
		if status, _, body := p.get(); status != 200 || body != "1:3" {
			t.Fatalf("GET %d %q", status, body)
		}
	}
	// Closed no sooner than the deadline after the last ping: later than
	// it would have been without pings.
	e := ts.rec.waitClose(t)
	if took := time.Since(start); e.conn != c || e.reason != ReasonPingTimeout || took < pings*every+deadline-50*time.Millisecond {
		t.Fatalf("close %+v after %v", e, took)
	}
}

func TestEIO3WebSocket(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	ws := dial(t, ts.wsURL("?EIO=3&transport=websocket"))
	if _, open := read(t, ws); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open %q", open)
	}
	ts.rec.waitOpen(t)
	write(t, ws, websocket.MessageBinary, "\x04\x01\x02")
	if m := ts.rec.waitMessage(t); m.data != "\x01\x02" || !m.binary {
		t.Fatalf("got %+v", m)
	}
	if typ, s := read(t, ws); typ != websocket.MessageBinary || s != "\x04\x01\x02" {
		t.Fatalf("echo %v %q", typ, s)
	}
	write(t, ws, websocket.MessageText, "2")
	if _, s := read(t, ws); s != "3" {
		t.Fatalf("pong %q", s)
	}
	// A binary packet that is not a message is a parse error.
	write(t, ws, websocket.MessageBinary, "\x02")
	if e := ts.rec.waitClose(t); e.reason != ReasonParseError {
		t.Fatalf("close %+v", e)
	}
}

func TestEIO3Upgrade(t *testing.T) {
	ts := newTestServer(t, Config{AllowEIO3: true})
	p, c := ts.pollHandshakeV3(t, "&b64=1")
	ws := dial(t, ts.wsURL("?EIO=3&transport=websocket&b64=1&sid="+c.ID()))
	write(t, ws, websocket.MessageText, "2probe")
	if _, s := read(t, ws); s != "3probe" {
		t.Fatalf("probe %q", s)
	}
	if status, _, body := p.get(); status != 200 || body != "1:6" {
		t.Fatalf("GET during upgrade %d %q", status, body)
	}
	write(t, ws, websocket.MessageText, "5")
	checkFor(t, 5*time.Second, "websocket transport", func() bool { return c.Transport() == TransportWebSocket })
	// The session's b64 holds on the websocket: binary comes as base64 text.
	write(t, ws, websocket.MessageText, "b4AQI=")
	ts.rec.waitMessage(t)
	if typ, s := read(t, ws); typ != websocket.MessageText || s != "b4AQI=" {
		t.Fatalf("echo %v %q", typ, s)
	}
}

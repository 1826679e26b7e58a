package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

func TestPollingHandshake(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1000})
	status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusOK || body[0] != '0' {
		t.Fatalf("got %d %q", status, body)
	}
	keys := openKeys(t, body[1:])
	slices.Sort(keys)
	if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
		t.Fatalf("open keys %v, want %v", keys, want)
	}
	var o engineio.Open
	_ = json.Unmarshal([]byte(body[1:]), &o)
	if len(o.SID) != 20 || !slices.Equal(o.Upgrades, []string{"websocket"}) || o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1000 {
		t.Fatalf("open = %+v", o)
	}
	c := ts.rec.waitOpen(t)
	if c.ID() != o.SID || c.Transport() != TransportPolling || c.Request().Query().Get("EIO") != "4" {
		t.Fatalf("conn %s %s %v", c.ID(), c.Transport(), c.Request().Query())
	}
	if st := ts.Stats(); st.OpenPolling != 1 || st.Handshakes != 1 {
		t.Fatalf("stats %+v", st)
	}
	httpDo(t, http.MethodPost, ts.url+"?EIO=4&transport=polling&sid="+o.SID, "1") // leave
}

func TestPollingEcho(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	ts.rec.waitOpen(t)
	// Text and binary in one POST; they are echoed in one GET.
	if status, body := p.post("4hello\x1ebAQIDBA==\x1e4€"); status != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
	for _, want := range []message{{data: "hello"}, {data: "\x01\x02\x03\x04", binary: true}, {data: "€"}} {
		m := ts.rec.waitMessage(t)
		if m.data != want.data || m.binary != want.binary {
			t.Fatalf("got %+v, want %+v", m, want)
		}
	}
	status, body := p.get()
	if status != 200 || body != "4hello\x1ebAQIDBA==\x1e4€" {
		t.Fatalf("GET: %d %q", status, body)
	}
}

func TestPollingBatchesQueuedFrames(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	for _, s := range []string{"a", "b", "c"} {
		if err := c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte(s))}, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := p.get(); body != "4a\x1e4b\x1e4c" {
		t.Fatalf("GET = %q", body)
	}
}

// TestSendCopyKeepsACopy: frames queued by SendCopy do not share the
// caller's memory, which it reuses at once.
func TestSendCopyKeepsACopy(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	scratch := make([]byte, 0, 8)
	frames := make([]engineio.Frame, 1)
	for _, s := range []string{"4a", "4b", "4c"} {
		scratch = append(scratch[:0], s...)
		frames[0] = engineio.Frame{Data: scratch}
		if err := c.SendCopy(frames, false); err != nil {
			t.Fatal(err)
		}
	}
	copy(scratch[:2], "4x")
	frames[0] = engineio.Frame{Data: []byte("4y")}
	if _, body := p.get(); body != "4a\x1e4b\x1e4c" {
		t.Fatalf("GET = %q", body)
	}
}

func TestPollingLongPollWaits(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	got := make(chan string, 1)
	go func() { _, body := p.get(); got <- body }()
	waitPollPending(t, c)
	select {
	case b := <-got:
		t.Fatalf("GET returned early: %q", b)
	default:
	}
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("late"))}, false)
	if b := <-got; b != "4late" {
		t.Fatalf("GET = %q", b)
	}
}

func TestHandshakeErrors(t *testing.T) {
	ts := newTestServer(t, Config{})
	tests := []struct {
		name, method, query string
		status              int
		body                string
	}{
		{"no EIO", "GET", "?transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO 3", "GET", "?EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"bad transport", "GET", "?EIO=4&transport=foo", 400, `{"code":0,"message":"Transport unknown"}`},
		{"no transport", "GET", "?EIO=4", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "?EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", "POST", "?EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "?EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "?EIO=4&transport=websocket", 400, `{"code":3,"message":"Bad request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.url+tt.query, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if resp.StatusCode != tt.status || b.String() != tt.body || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q (%s)", resp.StatusCode, b.String(), resp.Header.Get("Content-Type"))
			}
		})
	}
	if st := ts.Stats(); st.Errors.UnsupportedProtocol != 2 || st.Errors.UnknownSID != 1 || st.Errors.BadHandshakeMethod != 2 {
		t.Fatalf("error stats %+v", st.Errors)
	}
}

func TestAllowRequestForbidden(t *testing.T) {
	ts := newTestServer(t, Config{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("X-Token") == "" {
			return errorString("no token")
		}
		return nil
	}})
	status, body := httpDo(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusForbidden || body != `{"code":4,"message":"no token"}` {
		t.Fatalf("got %d %q", status, body)
	}
}

func TestAllowRequestStatusError(t *testing.T) {
	ts := newTestServer(t, Config{AllowRequest: func(r *http.Request) error {
		return &StatusError{Status: http.StatusServiceUnavailable, Err: errorString("draining")}
	}})
	status, body := httpDo(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusServiceUnavailable || body != `{"code":4,"message":"draining"}` {
		t.Fatalf("got %d %q", status, body)
	}
	if st := ts.Stats().Errors; st.Unavailable != 1 || st.Forbidden != 0 {
		t.Fatalf("error stats %+v", st)
	}
}

func TestPollingHandshakeCookie(t *testing.T) {
	for _, name := range []string{"", "io", "sticky"} {
		t.Run("cookie="+name, func(t *testing.T) {
			ts := newTestServer(t, Config{Cookie: name})
			ts.pollGrace = time.Millisecond // the test never polls again
			resp, err := http.Get(ts.url + "?EIO=4&transport=polling")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c := ts.rec.waitOpen(t)
			want := ""
			if name != "" {
				want = name + "=" + c.ID() + "; Path=/; HttpOnly; SameSite=Lax"
			}
			if got := resp.Header.Get("Set-Cookie"); got != want {
				t.Fatalf("Set-Cookie %q, want %q", got, want)
			}
		})
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestDuplicateGETClosesSession(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	first := make(chan string, 1)
	go func() { _, body := p.get(); first <- body }()
	waitPollPending(t, c)
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("second GET: %d", status)
	}
	if b := <-first; b != "1" {
		t.Fatalf("first GET = %q, want the close packet", b)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportError {
		t.Fatalf("reason %q", e.reason)
	}
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("GET after close: %d", status)
	}
}

func TestAbortedGETClosesSession(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", p.base, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	waitPollPending(t, c)
	tr.CloseIdleConnections()
	// Abort the request by closing its connection.
	ts.ts.CloseClientConnections()
	<-done
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportError {
		t.Fatalf("reason %q", e.reason)
	}
}

func TestPollingOversizePOST(t *testing.T) {
	ts := newTestServer(t, Config{MaxPayload: 100})
	p := ts.pollHandshake(t)
	ts.rec.waitOpen(t)
	if status, _ := p.post("4" + strings.Repeat("x", 100)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", status)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportError {
		t.Fatalf("reason %q", e.reason)
	}
	if st := ts.Stats(); st.Errors.PayloadTooLarge != 1 || st.Closes.PayloadTooLarge != 1 || st.Closes.TransportError != 0 {
		t.Fatalf("not counted apart: errors %d, closes %+v", st.Errors.PayloadTooLarge, st.Closes)
	}
}

func TestPollingUndecodablePOST(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ""},
		{"bad type", "9x"},
		{"bad base64", "b%%%"},
		{"trailing separator", "4a\x1e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})
			p := ts.pollHandshake(t)
			ts.rec.waitOpen(t)
			if status, _ := p.post(tt.body); status != http.StatusBadRequest {
				t.Fatalf("status %d", status)
			}
			if e := ts.rec.waitClose(t); e.reason != ReasonParseError {
				t.Fatalf("reason %q", e.reason)
			}
		})
	}
}

func TestPollingClientClose(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	pending := make(chan string, 1)
	go func() { _, b := p.get(); pending <- b }()
	waitPollPending(t, c)
	if status, body := p.post("1"); status != 200 || body != "ok" {
		t.Fatalf("%d %q", status, body)
	}
	if b := <-pending; b != "6" {
		t.Fatalf("pending GET = %q, want noop", b)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
		t.Fatalf("reason %q", e.reason)
	}
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("GET after close: %d", status)
	}
}

// A GET that reaches the server just after the client's close packet (the
// two raced) gets the noop a pending GET gets, once; then the sid is gone.
func TestPollingClientCloseBeforeGET(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	ts.rec.waitOpen(t)
	if status, body := p.post("1"); status != 200 || body != "ok" {
		t.Fatalf("%d %q", status, body)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
		t.Fatalf("reason %q", e.reason)
	}
	if status, b := p.get(); status != http.StatusOK || b != "6" {
		t.Fatalf("GET after close: %d %q, want noop", status, b)
	}
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("second GET after close: %d", status)
	}
}

func TestServerCloseDeliversQueueToNextGET(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("bye"))}, false)
	c.Close(ReasonForcedClose)
	if e := ts.rec.waitClose(t); e.reason != ReasonForcedClose {
		t.Fatalf("reason %q", e.reason)
	}
	if err := c.Send(nil, false); err != ErrClosed {
		t.Fatalf("Send after close: %v", err)
	}
	if _, body := p.get(); body != "4bye\x1e1" {
		t.Fatalf("GET = %q", body)
	}
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("GET after drain: %d", status)
	}
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name        string
		cors        CORS
		origin      string
		wantOrigin  string
		wantCreds   string
		wantHeaders bool
	}{
		{"disabled", CORS{}, "http://a.test", "", "", false},
		{"any", CORS{Origins: []string{"*"}}, "http://a.test", "*", "", true},
		{"any with credentials reflects", CORS{Origins: []string{"*"}, Credentials: true}, "http://a.test", "http://a.test", "true", true},
		{"listed", CORS{Origins: []string{"http://a.test"}}, "http://a.test", "http://a.test", "", true},
		{"not listed", CORS{Origins: []string{"http://a.test"}}, "http://b.test", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{CORS: tt.cors})
			req, _ := http.NewRequest(http.MethodOptions, ts.url+"?EIO=4&transport=polling", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !tt.wantHeaders {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Fatalf("disabled CORS: %d %v", resp.StatusCode, resp.Header)
				}
				return
			}
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("preflight status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Fatalf("Allow-Origin %q, want %q", got, tt.wantOrigin)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != tt.wantCreds {
				t.Fatalf("Allow-Credentials %q", got)
			}
			if got := resp.Header.Get("Access-Control-Allow-Headers"); got != "content-type" {
				t.Fatalf("Allow-Headers %q", got)
			}
		})
	}
}

// TestPollingGETWriteDeadline sends a large polling response to a client
// that does not read: the GET must give up after PingTimeout and close the
// session instead of holding its handler and buffer forever. A deadline
// must not outlive its GET on the keep-alive connection either.
func TestPollingGETWriteDeadline(t *testing.T) {
	rec := newRecorder(false)
	srv, err := NewServer(Config{Handler: rec, PingTimeout: 200 * time.Millisecond, WriteQueueBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var started, active atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		active.Add(1)
		defer active.Add(-1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.CloseClientConnections()
		hs.Close()
	})
	ts := &testServer{Server: srv, rec: rec, ts: hs, url: hs.URL + "/socket.io/"}

	t.Run("stalled client", func(t *testing.T) {
		p := ts.pollHandshake(t)
		c := rec.waitOpen(t)
		big := engineio.TextFrame(engineio.PacketMessage, bytes.Repeat([]byte("z"), 1<<20))
		for i := 0; i < 16; i++ { // more than loopback buffers hold
			if err := c.Send([]engineio.Frame{big}, false); err != nil {
				t.Fatal(err)
			}
		}
		nc, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.(*net.TCPConn).SetReadBuffer(4096)
		before := started.Load()
		req := "GET /socket.io/?EIO=4&transport=polling&sid=" + p.sid + " HTTP/1.1\r\nHost: x\r\n\r\n"
		if _, err := nc.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		checkFor(t, 5*time.Second, "the stalled GET to end", func() bool {
			return started.Load() > before && active.Load() == 0
		})
		if e := rec.waitClose(t); e.conn != c || e.reason != ReasonTransportError {
			t.Fatalf("close %v %q", e.conn == c, e.reason)
		}
	})

	t.Run("keep-alive after a GET", func(t *testing.T) {
		p := ts.pollHandshake(t)
		c := rec.waitOpen(t)
		_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("x"))}, false)
		if status, body := p.get(); status != http.StatusOK || body != "4x" {
			t.Fatalf("GET: %d %q", status, body)
		}
		time.Sleep(300 * time.Millisecond) // past the GET's write deadline
		if status, body := p.post("4y"); status != http.StatusOK || body != "ok" {
			t.Fatalf("POST on the same connection: %d %q", status, body)
		}
	})
}

// TestShutdownKeepsClosedPollingSessionsForTheirLastGET checks that
// Shutdown leaves a closed polling session without a pending GET in place
// until the client's next GET takes its last packets and the close packet,
// and that it stops waiting when its context ends.
func TestShutdownKeepsClosedPollingSessionsForTheirLastGET(t *testing.T) {
	for _, tt := range []struct {
		name    string
		closeBy func(c *Conn) // before Shutdown; nil: Shutdown closes it
		want    string
	}{
		{"closed before", func(c *Conn) { c.Close(ReasonForcedClose) }, "4bye\x1e1"},
		{"closed by Shutdown", nil, "4bye\x1e1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})
			p := ts.pollHandshake(t)
			c := ts.rec.waitOpen(t)
			_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("bye"))}, false)
			if tt.closeBy != nil {
				tt.closeBy(c)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- ts.Shutdown(ctx) }()
			ts.rec.waitClose(t)
			if status, body := p.get(); status != http.StatusOK || body != tt.want {
				t.Fatalf("last GET: %d %q, want %q", status, body, tt.want)
			}
			if err := <-done; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if status, _ := p.get(); status != http.StatusBadRequest {
				t.Fatalf("GET after the last one: %d", status)
			}
		})
	}
	t.Run("client gone", func(t *testing.T) {
		for _, tt := range []struct {
			name         string
			grace, limit time.Duration
		}{
			{"grace ends", 100 * time.Millisecond, 5 * time.Second},
			{"ctx ends", 5 * time.Second, 100 * time.Millisecond},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ts := newTestServer(t, Config{})
				ts.pollGrace = tt.grace
				p := ts.pollHandshake(t)
				ts.rec.waitOpen(t)
				ctx, cancel := context.WithTimeout(context.Background(), tt.limit)
				defer cancel()
				start := time.Now()
				if err := ts.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Fatalf("Shutdown took %v", took)
				}
				if status, _ := p.get(); status != http.StatusBadRequest {
					t.Fatalf("GET after Shutdown: %d", status)
				}
			})
		}
	})
}

// waitPollPending waits until a long-poll GET of c is held by the server.
func waitPollPending(t *testing.T, c *Conn) {
	t.Helper()
	checkFor(t, 5*time.Second, "pending GET", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pollActive
	})
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/adapter"
)

func newTestGateway(t *testing.T, cfg Config) (*Gateway, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return g, srv
}

// serveGateway runs a gateway for cfg (quiet unless cfg.Logger is set, with
// a 5 s shutdown timeout) through Serve on a loopback listener until the
// test ends, when Serve must return nil. It returns the gateway and its
// address once it answers /healthz.
func serveGateway(t *testing.T, cfg Config) (*Gateway, string) {
	t.Helper()
	cfg.ShutdownTimeout = 5 * time.Second
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	waitFor(t, 5*time.Second, "the gateway to serve", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return g, addr
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestEndpoints(t *testing.T) {
	g, srv := newTestGateway(t, Config{Version: "v-test"})
	tests := []struct {
		path     string
		status   int
		contains []string
	}{
		{"/healthz", 200, []string{"ok"}},
		{"/readyz", 200, []string{"ready"}},
		{"/", 200, []string{`<script src="/socket.io/socket.io.js">`, `id="join-chat"`}},
		{"/app.js", 200, []string{"socket.send("}},
		{"/nope", 404, nil},
		{"/socket.io/?EIO=4&transport=polling", 200, []string{`0{"sid":"`, `"pingInterval":25000`}},
		{"/socket.io/?EIO=3&transport=polling", 400, nil},
		{"/metrics", 200, []string{
			`sockgate_build_info{adapter="memory",client_bundle=`, `version="v-test"} 1`,
			"sockgate_ready 1", "sockgate_sockets 0", "sockgate_connections", "sockgate_packets_received_total",
			"go_goroutines", "process_resident_memory_bytes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q", want)
				}
			}
		})
	}
	if g.AdapterName() != "memory" {
		t.Errorf("AdapterName = %q", g.AdapterName())
	}
}

func TestBundleRoute(t *testing.T) {
	g, srv := newTestGateway(t, Config{})
	if !g.bundle.Available() {
		resp, body := get(t, srv.URL+"/socket.io/socket.io.js", nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "make run") {
			t.Fatalf("missing bundle: status %d %q", resp.StatusCode, body)
		}
		t.Skip("bundle not generated (go generate ./web); checked the 503")
	}
	for _, path := range []string{"/socket.io/socket.io.js", "/socket.io/socket.io.min.js", "/socket.io/socket.io.js.map", "/socket.io/socket.io.min.js.map"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, srv.URL+path, http.Header{"Accept-Encoding": {"identity"}})
			if resp.StatusCode != 200 || len(body) < 1000 {
				t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
			}
			etag := resp.Header.Get("ETag")
			if etag == "" || resp.Header.Get("Cache-Control") == "" {
				t.Fatalf("ETag %q Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
			}
			resp, _ = get(t, srv.URL+path, http.Header{"If-None-Match": {etag}, "Accept-Encoding": {"identity"}})
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
			}
		})
	}
}

func TestBuiltinEvents(t *testing.T) {
	_, srv := newTestGateway(t, Config{MaxRooms: 3})
	c := dial(t, srv)
	tests := []struct {
		name, send string
		binary     []byte
		want       []string // frames expected back, in order
	}{
		{"join", `421["join","chat"]`, nil, []string{`431[true]`}},
		{"join again", `422["join","chat"]`, nil, []string{`432[true]`}},
		{"join number", `423["join",42]`, nil, []string{`433[{"error":"join: room name must be a string"}]`}},
		{"join null", `424["join",null]`, nil, []string{`434[{"error":"join: room name must be a string"}]`}},
		{"join empty", `425["join",""]`, nil, []string{`435[{"error":"join: room name is empty"}]`}},
		{"join long", `426["join","` + strings.Repeat("x", 129) + `"]`, nil, []string{`436[{"error":"join: room name is longer than 128 bytes"}]`}},
		{"join 128", `427["join","` + strings.Repeat("x", 128) + `"]`, nil, []string{`437[true]`}},
		{"join missing", `428["join"]`, nil, []string{`438[{"error":"join: missing room name"}]`}},
		{"join object", `429["join",{"room":"a"}]`, nil, []string{`439[{"error":"join: room name must be a string"}]`}},
		{"join binary", `451-10["join",{"_placeholder":true,"num":0}]`, []byte("room"), []string{`4310[{"error":"join: room name must be a string"}]`}},
		{"join too many", `4211["join","c"]`, nil, []string{`4311[true]`}},
		{"join over max", `4212["join","d"]`, nil, []string{`4312[{"error":"join: too many rooms (at most 3)"}]`}},
		{"bad join without ack is ignored", `42["join",7]`, nil, nil},
		{"leave", `4213["leave","c"]`, nil, []string{`4313[true]`}},
		{"leave bad", `4214["leave",""]`, nil, []string{`4314[{"error":"leave: room name is empty"}]`}},
		{"leave unknown", `4215["leave","never"]`, nil, []string{`4315[true]`}},
		{"echo exact bytes", `4216["echo",{"z":1,"a":9007199254740993,"u":"\u00e9é","n":[1.50,-0,1e400]}, "s" ,null]`, nil,
			[]string{`4316[{"z":1,"a":9007199254740993,"u":"\u00e9é","n":[1.50,-0,1e400]},"s",null]`}},
		{"echo no args", `4217["echo"]`, nil, []string{`4317[]`}},
		{"echo without ack is ignored", `42["echo","x"]`, nil, nil},
		{"unknown event", `4218["nope",1]`, nil, []string{`4318[{"error":"nope: unknown event"}]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.send)
			if tt.binary != nil {
				c.sendBinary(tt.binary)
			}
			for _, w := range tt.want {
				c.expect(w)
			}
		})
	}
	// Nothing else was queued for c (the ignored events sent no answer).
	c.t = t
	c.send(`4299["echo","end"]`)
	c.expect(`4399["end"]`)
}

func TestEchoBinary(t *testing.T) {
	_, srv := newTestGateway(t, Config{})
	c := dial(t, srv)
	c.send(`452-7["echo","a",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]`)
	c.sendBinary([]byte{0, 1, 2, 255})
	c.sendBinary([]byte("second"))
	c.expect(`462-7["a",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]`)
	for _, want := range []string{"\x00\x01\x02\xff", "second"} {
		binary, got := c.read()
		if !binary || got != want {
			t.Fatalf("attachment %q (binary %v), want %q", got, binary, want)
		}
	}
}

func TestMessageRooms(t *testing.T) {
	_, srv := newTestGateway(t, Config{})
	a, b, lone := dial(t, srv), dial(t, srv), dial(t, srv)
	a.send(`421["join","chat"]`)
	a.expect(`431[true]`)
	b.send(`421["join","chat"]`)
	b.expect(`431[true]`)

	// In a room: the room's members get it (the sender too), others not.
	const roomMsg = `42["message",{"b":2,"a":1},"\u00e9"]`
	a.send(`422["message",{"b":2,"a":1},"\u00e9"]`)
	a.expectSet(roomMsg, `432[true]`)
	b.expect(roomMsg)
	// Once a has its ack, any delivery to lone was queued: its next frame
	// must be its own echo, not the room message.
	lone.send(`423["echo","probe"]`)
	lone.expect(`433["probe"]`)

	// In no room: everyone gets it.
	lone.send(`42["message","to all"]`)
	for _, c := range []*wsClient{a, b, lone} {
		c.expect(`42["message","to all"]`)
	}

	// Binary attachments are relayed.
	b.send(`451-["message",{"_placeholder":true,"num":0}]`)
	b.sendBinary([]byte{9, 8, 7})
	for _, c := range []*wsClient{a, b} {
		c.expect(`451-["message",{"_placeholder":true,"num":0}]`)
		if binary, got := c.read(); !binary || got != "\x09\x08\x07" {
			t.Fatalf("attachment %q", got)
		}
	}

	// After leave, a is in no room: its message reaches everyone.
	a.send(`424["leave","chat"]`)
	a.expect(`434[true]`)
	a.send(`42["message","bye"]`)
	for _, c := range []*wsClient{a, b, lone} {
		c.expect(`42["message","bye"]`)
	}
}

// degraded is an adapter that reports itself unhealthy.
type degraded struct{ adapter.Adapter }

func (degraded) Health() error { return errors.New("redis down") }

func TestReadyzDegraded(t *testing.T) {
	tests := []struct {
		name     string
		requires bool
		status   int
		body     string
	}{
		{"default: informative only", false, http.StatusOK, "ready\n"},
		{"ready-requires-redis", true, http.StatusServiceUnavailable, "not ready: cluster degraded: redis down\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newTestGateway(t, Config{Adapter: degraded{adapter.NewMemory()}, ReadyRequiresRedis: tt.requires})
			resp, body := get(t, srv.URL+"/readyz", nil)
			if resp.StatusCode != tt.status || body != tt.body {
				t.Errorf("readyz: %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			resp, body = get(t, srv.URL+"/readyz?verbose", nil)
			var rd Readiness
			if err := json.Unmarshal([]byte(body), &rd); err != nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("verbose: %q (%s): %v", body, resp.Header.Get("Content-Type"), err)
			}
			if resp.StatusCode != tt.status || rd.Ready != (tt.status == 200) || rd.Cluster != "degraded: redis down" || rd.ClusterRequired != tt.requires {
				t.Errorf("verbose: %d %+v", resp.StatusCode, rd)
			}
			if resp, _ := get(t, srv.URL+"/healthz", nil); resp.StatusCode != 200 {
				t.Errorf("healthz: status %d while degraded, want 200", resp.StatusCode)
			}
			_, metrics := get(t, srv.URL+"/metrics", nil)
			if want := fmt.Sprintf("sockgate_ready %d\n", b2i(tt.status == 200)); !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %q", want)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestServeDrain(t *testing.T) {
	g, err := New(Config{ShutdownTimeout: 5 * time.Second, DrainDelay: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	srv := &httptest.Server{URL: "http://" + ln.Addr().String()}

	if resp, _ := get(t, srv.URL+"/readyz", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz before drain: %d", resp.StatusCode)
	}
	c := dial(t, srv)
	c.send(`421["join","r"]`)
	c.expect(`431[true]`)

	// A real client answers the server's close frame: keep reading.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, _, err := c.conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()

	cancel()
	// During the drain delay: readiness 503, handshakes 503 with a JSON
	// body, the listener and the existing session still serve.
	waitFor(t, 5*time.Second, "readyz to turn 503", func() bool {
		resp, _ := get(t, srv.URL+"/readyz", nil)
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	resp, body := get(t, srv.URL+"/socket.io/?EIO=4&transport=polling", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" ||
		body != `{"code":4,"message":"gateway: draining"}` {
		t.Errorf("handshake while draining: %d %q (%s)", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	_, body = get(t, srv.URL+"/readyz?verbose", nil)
	if !strings.Contains(body, `"draining":true`) {
		t.Errorf("readyz?verbose while draining: %s", body)
	}
	_, body = get(t, srv.URL+"/metrics", nil)
	for _, want := range []string{"sockgate_draining 1\n", `sockgate_engineio_errors_total{kind="unavailable"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics while draining lack %q", want)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if g.Ready() == nil {
		t.Error("Ready() is nil after the drain")
	}
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "draining") {
		t.Errorf("readyz while draining: %d %q", rec.Code, rec.Body.String())
	}
	select {
	case <-closed: // the websocket was closed by the shutdown
	case <-time.After(5 * time.Second):
		t.Error("websocket still open after Serve returned")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}

func TestCookieAndCORSCredentials(t *testing.T) {
	_, srv := newTestGateway(t, Config{Cookie: "io", CORSOrigins: []string{"https://app.example"}, CORSCredentials: true})
	resp, body := get(t, srv.URL+"/socket.io/?EIO=4&transport=polling", http.Header{"Origin": {"https://app.example"}})
	if resp.StatusCode != 200 {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	if got, want := resp.Header.Get("Set-Cookie"), "io="+open.SID+"; Path=/; HttpOnly; SameSite=Lax"; got != want {
		t.Errorf("Set-Cookie %q, want %q", got, want)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers %v", h)
	}
	closePolling(t, srv, open.SID)

	_, srv = newTestGateway(t, Config{CORSOrigins: []string{"*"}})
	resp, body = get(t, srv.URL+"/socket.io/?EIO=4&transport=polling", http.Header{"Origin": {"https://app.example"}})
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Access-Control-Allow-Credentials") != "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("defaults: no cookie, no credentials, origin *: %v", resp.Header)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err == nil {
		closePolling(t, srv, open.SID)
	}
}

// closePolling sends a polling session's close packet, so that shutdown
// does not wait for its next GET.
func closePolling(t *testing.T, srv *httptest.Server, sid string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader("1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestDrainPacedBatches drains 6 connections 2 at a time: the closes come
// in 3 steps spread over the drain window, after the drain delay.
func TestDrainPacedBatches(t *testing.T) {
	g, srv := newTestGateway(t, Config{DrainDelay: 200 * time.Millisecond})
	g.drainBatch = 2
	const n = 6
	closedAt := make(chan time.Time, n)
	for range n {
		c := dial(t, srv)
		c.send(`421["join","all"]`)
		c.expect(`431[true]`)
		go func() {
			for {
				_, b, err := c.conn.Read(context.Background())
				if err != nil {
					closedAt <- time.Now()
					return
				}
				if string(b) == "2" {
					c.conn.Write(context.Background(), websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	var times []time.Duration
	for range n {
		select {
		case at := <-closedAt:
			times = append(times, at.Sub(start))
		case <-time.After(5 * time.Second):
			t.Fatal("a client was not closed")
		}
	}
	slices.Sort(times)
	t.Logf("closes at %v", times)
	if times[0] < 200*time.Millisecond {
		t.Errorf("first close after %v, before the drain delay", times[0])
	}
	// 3 steps over half of the 2.8s left: about 470ms apart.
	if gap := times[n-1] - times[0]; gap < 500*time.Millisecond {
		t.Errorf("the closes span %v: not paced in steps", gap)
	}
}

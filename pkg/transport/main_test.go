package transport

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// TestMain fails the run if goroutines (of this package, of the websocket
// library, of net/http) outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// checkLeaks fails t if goroutines besides the test's own are still running
// after the retries goleak makes, not counting those of the test's HTTP
// server and of the client's keep-alive connections, which end in the
// test's cleanup. Tests running in parallel must not call it.
func checkLeaks(t testing.TB) {
	t.Helper()
	if err := goleak.Find(
		goleak.IgnoreAnyFunction("net/http.(*Server).Serve"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	); err != nil {
		t.Fatal(err)
	}
}

// checkFor polls cond until it holds or the timeout passes.
func checkFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type message struct {
	conn   *Conn
	data   string
	binary bool
}

type closeEvent struct {
	conn   *Conn
	reason string
}

// recorder is a test Handler: it records events and echoes messages back.
type recorder struct {
	echo   bool
	opened chan *Conn
	msgs   chan message
	closed chan closeEvent

	mu      sync.Mutex
	state   map[*Conn]string // "open", "closed": checks the event order
	orderOK bool
}

func newRecorder(echo bool) *recorder {
	return &recorder{
		echo:    echo,
		opened:  make(chan *Conn, 1000),
		msgs:    make(chan message, 1000),
		closed:  make(chan closeEvent, 1000),
		state:   make(map[*Conn]string),
		orderOK: true,
	}
}

func (r *recorder) OnOpen(c *Conn) {
	r.mu.Lock()
	if r.state[c] != "" {
		r.orderOK = false
	}
	r.state[c] = "open"
	r.mu.Unlock()
	r.opened <- c
}

func (r *recorder) OnMessage(c *Conn, data []byte, binary bool) {
	r.mu.Lock()
	if r.state[c] != "open" {
		r.orderOK = false
	}
	r.mu.Unlock()
	if r.echo {
		f := engineio.Frame{Data: data, Binary: true}
		if !binary {
			f = engineio.TextFrame(engineio.PacketMessage, data)
		}
		_ = c.Send([]engineio.Frame{f}, false)
	}
	r.msgs <- message{c, string(data), binary}
}

func (r *recorder) OnClose(c *Conn, reason string) {
	r.mu.Lock()
	if r.state[c] != "open" {
		r.orderOK = false
	}
	r.state[c] = "closed"
	r.mu.Unlock()
	r.closed <- closeEvent{c, reason}
}

func (r *recorder) waitOpen(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-r.opened:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no OnOpen")
		return nil
	}
}

func (r *recorder) waitMessage(t testing.TB) message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no OnMessage")
		return message{}
	}
}

func (r *recorder) waitClose(t testing.TB) closeEvent {
	t.Helper()
	select {
	case e := <-r.closed:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
		return closeEvent{}
	}
}

type testServer struct {
	*Server
	rec *recorder
	ts  *httptest.Server
	url string // http://127.0.0.1:port/socket.io/
}

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	rec := newRecorder(true)
	if os.Getenv("TRANSPORT_DEBUG") != "" && cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Handler == nil {
		cfg.Handler = rec
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.CloseClientConnections()
		ts.Close()
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if !rec.orderOK {
			t.Error("handler events out of order")
		}
	})
	return &testServer{Server: srv, rec: rec, ts: ts, url: ts.URL + "/socket.io/"}
}

// pollingClient is a minimal Engine.IO polling client.
type pollingClient struct {
	t    testing.TB
	base string
	sid  string
	open engineio.Open
}

func (ts *testServer) pollHandshake(t testing.TB) *pollingClient {
	t.Helper()
	status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	open, err := engineio.ParseOpen([]byte(strings.SplitN(body[1:], "\x1e", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	p := &pollingClient{t: t, base: ts.url + "?EIO=4&transport=polling&sid=" + open.SID, sid: open.SID, open: open}
	// Leave like a client that closes (its session is then not kept for a
	// last GET, which Shutdown would wait for), unless the test ended the
	// session: then this POST fails and is ignored.
	t.Cleanup(func() {
		if resp, err := http.Post(p.base, "text/plain;charset=UTF-8", strings.NewReader("1")); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	return p
}

func (p *pollingClient) get() (int, string) {
	p.t.Helper()
	return httpDo(p.t, http.MethodGet, p.base, "")
}

func (p *pollingClient) post(body string) (int, string) {
	p.t.Helper()
	return httpDo(p.t, http.MethodPost, p.base, body)
}

func httpDo(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func openKeys(t testing.TB, data string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

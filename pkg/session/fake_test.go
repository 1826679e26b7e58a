package session

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// fakeConn is an in-memory Engine.IO connection: it records the frames the
// server sends; the test plays the client by calling client.onMessage.
type fakeConn struct {
	id     string
	cl     *client
	legacy bool // Engine.IO v3: a socket.io-client 2.x client

	mu     sync.Mutex
	frames []engineio.Frame
	read   int
	closed bool
	reason string
}

func (f *fakeConn) ID() string        { return f.id }
func (f *fakeConn) Transport() string { return "websocket" }

func (f *fakeConn) Protocol() int {
	if f.legacy {
		return 3
	}
	return 4
}

func (f *fakeConn) Send(frames []engineio.Frame, volatile bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return transport.ErrClosed
	}
	f.frames = append(f.frames, frames...)
	return nil
}

// SendCopy keeps a copy, as the transport does with what it queues.
func (f *fakeConn) SendCopy(frames []engineio.Frame, volatile bool) error {
	own := make([]engineio.Frame, len(frames))
	for i, fr := range frames {
		own[i] = engineio.Frame{Data: bytes.Clone(fr.Data), Binary: fr.Binary}
	}
	return f.Send(own, volatile)
}

func (f *fakeConn) Enqueue(frames []engineio.Frame, volatile bool) error {
	return f.Send(frames, volatile)
}

// Close behaves like the strictest transport: OnClose runs synchronously.
func (f *fakeConn) Close(reason string) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed, f.reason = true, reason
	f.mu.Unlock()
	f.cl.onClose(reason)
}

func (f *fakeConn) isClosed() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed, f.reason
}

// recv sends the server a text message (the Engine.IO payload after "4").
func (f *fakeConn) recv(text string) { f.cl.onMessage([]byte(text), false) }

// recvBinary sends the server a binary message.
func (f *fakeConn) recvBinary(b []byte) { f.cl.onMessage(b, true) }

// next waits for the next frame the server sent.
func (f *fakeConn) next(t *testing.T) engineio.Frame {
	t.Helper()
	var fr engineio.Frame
	waitFor(t, "a frame from the server", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.read < len(f.frames) {
			fr = f.frames[f.read]
			f.read++
			return true
		}
		return false
	})
	return fr
}

// expect waits for the next frame and checks its text.
func (f *fakeConn) expect(t *testing.T, want string) {
	t.Helper()
	if got := f.next(t); got.Binary || string(got.Data) != want {
		t.Fatalf("got frame %q (binary %v), want %q", got.Data, got.Binary, want)
	}
}

// expectPrefix waits for the next frame and checks that it starts with prefix.
func (f *fakeConn) expectPrefix(t *testing.T, prefix string) string {
	t.Helper()
	got := f.next(t)
	if got.Binary || !strings.HasPrefix(string(got.Data), prefix) {
		t.Fatalf("got frame %q, want prefix %q", got.Data, prefix)
	}
	return string(got.Data)
}

// pending returns the frames not read yet.
func (f *fakeConn) pending() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, fr := range f.frames[f.read:] {
		out = append(out, string(fr.Data))
	}
	return out
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestServer returns a server without transport, shut down at cleanup.
func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return s
}

var connSeq struct {
	sync.Mutex
	n int
}

// dial opens a fake Engine.IO connection.
func dial(t *testing.T, s *Server) *fakeConn { return dialProtocol(t, s, false) }

func dialProtocol(t *testing.T, s *Server, legacy bool) *fakeConn {
	t.Helper()
	connSeq.Lock()
	connSeq.n++
	id := fmt.Sprintf("conn%d", connSeq.n)
	connSeq.Unlock()
	f := &fakeConn{id: id, legacy: legacy}
	r := httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=4&transport=websocket", nil)
	r.Header.Set("User-Agent", "test")
	r.RemoteAddr = "127.0.0.1:1234"
	f.cl = s.open(f, transport.NewRequest(r, time.Unix(1700000000, 0)))
	return f
}

// connect connects f to nsp and returns the socket ID the server sent.
func connect(t *testing.T, f *fakeConn, nsp string) string {
	t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix += nsp + ","
	}
	f.recv(prefix)
	got := f.expectPrefix(t, "4"+prefix+`{"sid":"`)
	sid := strings.TrimSuffix(strings.TrimPrefix(got, "4"+prefix+`{"sid":"`), `"}`)
	if len(sid) != 20 {
		t.Fatalf("sid %q: want 20 characters", sid)
	}
	return sid
}

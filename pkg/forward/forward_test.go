package forward

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/transport"
)

var testSecret = []byte("0123456789abcdef-test-secret")

// echo is a transport.Handler that sends every message back and records
// what it got.
type echo struct {
	mu   sync.Mutex
	msgs []string
}

func (e *echo) OnOpen(*transport.Conn) {}
func (e *echo) OnMessage(c *transport.Conn, data []byte, binary bool) {
	e.mu.Lock()
	e.msgs = append(e.msgs, string(data))
	e.mu.Unlock()
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, data)}, false)
}
func (e *echo) OnClose(*transport.Conn, string) {}

func (e *echo) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

// testNode is one cluster member: a Node, its transport and its HTTP server.
type testNode struct {
	node  *Node
	srv   *transport.Server
	echo  *echo
	ts    *httptest.Server
	url   string // http://127.0.0.1:port/socket.io/
	mu    sync.Mutex
	addrs []string // RemoteAddr of each request the transport served
	xff   []string // and its X-Forwarded-For
	once  sync.Once
}

func (tn *testNode) remoteAddrs() []string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return append([]string(nil), tn.addrs...)
}

// startNodes starts count nodes in one registry (a key of the test's own).
func startNodes(t testing.TB, count int) []*testNode {
	t.Helper()
	secrets := make([][]byte, count)
	for i := range secrets {
		secrets[i] = testSecret
	}
	return startNodesWith(t, secrets)
}

// startNodesWith starts a node per secret in one registry.
func startNodesWith(t testing.TB, secrets [][]byte) []*testNode {
	t.Helper()
	rdb := newRedis(t)
	key := "forward-test-" + rand.Text()
	nodes := make([]*testNode, len(secrets))
	for i := range nodes {
		n, err := New(Config{Redis: rdb, Key: key, Secret: secrets[i], TTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{node: n, echo: &echo{}}
		tn.srv, err = transport.NewServer(transport.Config{
			Handler:         tn.echo,
			SessionIDPrefix: n.SessionIDPrefix(),
			Remote:          n.Remote,
			PingInterval:    time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tn.mu.Lock()
			tn.addrs = append(tn.addrs, r.RemoteAddr)
			tn.xff = append(tn.xff, r.Header.Get("X-Forwarded-For"))
			tn.mu.Unlock()
			tn.srv.ServeHTTP(w, r)
		})
		mux := http.NewServeMux()
		mux.Handle("/socket.io/", n.Handler(record))
		tn.ts = httptest.NewServer(mux)
		tn.url = tn.ts.URL + "/socket.io/"
		if err := n.Start(context.Background(), tn.ts.Listener.Addr().String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tn.stop(t) })
		nodes[i] = tn
	}
	return nodes
}

// stop shuts the node down like a gateway: sessions, then the node, then
// the HTTP server.
func (tn *testNode) stop(t testing.TB) {
	tn.once.Do(func() { tn.shutdown(t) })
}

func (tn *testNode) shutdown(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tn.srv.Shutdown(ctx); err != nil {
		t.Errorf("transport Shutdown: %v", err)
	}
	if err := tn.node.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	tn.ts.CloseClientConnections()
	tn.ts.Close()
}

// client is an HTTP client whose connections come from 127.0.0.2, so that
// the owner can tell the client's address from the forwarding node's.
func client(t testing.TB) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func do(t testing.TB, c *http.Client, method, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// handshake opens a polling session on tn and returns its sid.
func handshake(t testing.TB, c *http.Client, tn *testNode) string {
	t.Helper()
	status, body := do(t, c, http.MethodGet, tn.url+"?EIO=4&transport=polling", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	open, err := engineio.ParseOpen([]byte(body[1:]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(open.SID, tn.node.ID()+".") {
		t.Fatalf("sid %q does not name node %q", open.SID, tn.node.ID())
	}
	// Leave like a client that closes, so that Shutdown does not keep the
	// session for a last GET (unless the test ended it: then this fails).
	t.Cleanup(func() {
		if resp, err := c.Post(tn.url+query(open.SID), "text/plain;charset=UTF-8", strings.NewReader("1")); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	return open.SID
}

func query(sid string) string { return "?EIO=4&transport=polling&sid=" + sid }

func TestForwardPolling(t *testing.T) {
	nodes := startNodes(t, 3)
	c := client(t)
	sid := handshake(t, c, nodes[0])

	// Every request through another node reaches the session: POSTs are
	// delivered in order, GETs get the echoes.
	for i, via := range []*testNode{nodes[1], nodes[2], nodes[0], nodes[1]} {
		msg := "4hello " + string(rune('a'+i))
		if status, body := do(t, c, http.MethodPost, via.url+query(sid), msg, nil); status != 200 || body != "ok" {
			t.Fatalf("POST via node %d: %d %q", i, status, body)
		}
		if status, body := do(t, c, http.MethodGet, via.url+query(sid), "", nil); status != 200 || body != msg {
			t.Fatalf("GET via node %d: %d %q, want %q", i, status, body, msg)
		}
	}
	if got := nodes[0].echo.messages(); strings.Join(got[:4], ",") != "hello a,hello b,hello c,hello d" {
		t.Fatalf("owner got %q", got)
	}
	// The owner saw the client's address (127.0.0.2), never the forwarding
	// node's (127.0.0.1).
	for _, a := range nodes[0].remoteAddrs() {
		if !strings.HasPrefix(a, "127.0.0.2:") {
			t.Fatalf("owner served a request from %q, want the client's 127.0.0.2", a)
		}
	}
	// A load balancer's X-Forwarded-For reaches the owner as it was.
	do(t, c, http.MethodPost, nodes[2].url+query(sid), "4xff", http.Header{"X-Forwarded-For": {"192.0.2.1"}})
	tn := nodes[0]
	tn.mu.Lock()
	xff := tn.xff[len(tn.xff)-1]
	tn.mu.Unlock()
	if xff != "192.0.2.1" {
		t.Fatalf("owner got X-Forwarded-For %q", xff)
	}
	s1 := nodes[1].node.Stats()
	if s1.Forwarded[KindPollingPost][ResultOK] != 2 || s1.Forwarded[KindPollingGet][ResultOK] != 2 || s1.Latency[KindPollingGet].Count != 2 {
		t.Fatalf("node 1 stats %+v", s1)
	}
	if s0 := nodes[0].node.Stats(); s0.Accepted != 7 {
		t.Fatalf("owner accepted %d forwarded requests, want 7", s0.Accepted)
	}
}

func TestForwardWebSocketUpgrade(t *testing.T) {
	nodes := startNodes(t, 2)
	c := client(t)
	sid := handshake(t, c, nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(nodes[1].url, "http") + "?EIO=4&transport=websocket&sid=" + sid
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	exchange := func(send, want string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
			t.Fatal(err)
		}
		if want == "" {
			return
		}
		_, got, err := ws.Read(ctx)
		if err != nil || string(got) != want {
			t.Fatalf("sent %q, got %q (%v), want %q", send, got, err, want)
		}
	}
	exchange("2probe", "3probe")
	// The pending-GET wait of the upgrade: the client sends upgrade once
	// polling is paused, here at once.
	exchange("5", "")
	exchange("4over websocket", "4over websocket")
	if s := nodes[1].node.Stats(); s.Forwarded[KindWebSocket][ResultOK] != 1 {
		t.Fatalf("node 1 stats %+v", s)
	}
	// Closing the forwarding node ends the websocket it relays.
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if err := nodes[1].node.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err == nil {
		t.Fatal("websocket still open after the forwarding node closed")
	}
}

func TestForwardRefusesForgedRequests(t *testing.T) {
	nodes := startNodes(t, 1)
	owner := nodes[0]
	c := client(t)
	sid := handshake(t, c, owner)
	impostor, err := New(Config{Redis: newRedis(t), Secret: []byte("another secret, 16+ bytes")})
	if err != nil {
		t.Fatal(err)
	}
	defer impostor.Close(context.Background())

	host := owner.ts.Listener.Addr().String()
	uri := "/socket.io/" + query(sid)
	signed := func(n *Node, method, uri string, at time.Time, body string) http.Header {
		h := http.Header{}
		n.sign(h, method, uri, host, "203.0.113.9:1234", at, []byte(body))
		return h
	}
	now := time.Now()
	tests := []struct {
		name   string
		header http.Header
		body   string
		reason Reject
	}{
		{"no signature", http.Header{HeaderClient: {"203.0.113.9:1234"}}, "4forged", RejectMissing},
		{"empty signature", http.Header{HeaderClient: {"203.0.113.9:1234"}, HeaderTime: {"1"}, HeaderSignature: {""}}, "4forged", RejectMissing},
		{"wrong secret", signed(impostor, http.MethodPost, uri, now, "4forged"), "4forged", RejectSignature},
		{"altered body", signed(owner.node, http.MethodPost, uri, now, "4signed"), "4forged", RejectSignature},
		{"other uri", signed(owner.node, http.MethodPost, "/socket.io/"+query("x"), now, "4forged"), "4forged", RejectSignature},
		{"too old", signed(owner.node, http.MethodPost, uri, now.Add(-time.Minute), "4forged"), "4forged", RejectExpired},
		{"from the future", signed(owner.node, http.MethodPost, uri, now.Add(time.Minute), "4forged"), "4forged", RejectExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := owner.node.Stats().Rejected[tt.reason]
			status, body := do(t, c, http.MethodPost, owner.url+query(sid), tt.body, tt.header)
			if status != http.StatusForbidden {
				t.Fatalf("got %d %q, want 403", status, body)
			}
			if after := owner.node.Stats().Rejected[tt.reason]; after != before+1 {
				t.Fatalf("rejected[%v] %d -> %d", tt.reason, before, after)
			}
		})
	}
	// A correctly signed one is served, with the address it names.
	status, body := do(t, c, http.MethodPost, owner.url+query(sid), "4genuine", signed(owner.node, http.MethodPost, uri, now, "4genuine"))
	if status != http.StatusOK || body != "ok" {
		t.Fatalf("genuine: %d %q", status, body)
	}
	waitFor(t, 5*time.Second, "the genuine message", func() bool { return len(owner.echo.messages()) == 1 })
	if got := owner.echo.messages(); got[0] != "genuine" {
		t.Fatalf("delivered %q: a forged request got through", got)
	}
	if addrs := owner.remoteAddrs(); addrs[len(addrs)-1] != "203.0.113.9:1234" {
		t.Fatalf("RemoteAddr %q", addrs[len(addrs)-1])
	}
}

func TestForwardBetweenNodesWithDifferentSecrets(t *testing.T) {
	nodes := startNodesWith(t, [][]byte{testSecret, []byte("a secret the other node lacks")})
	c := client(t)
	sid := handshake(t, c, nodes[0])
	status, body := do(t, c, http.MethodPost, nodes[1].url+query(sid), "4x", nil)
	if status != http.StatusForbidden {
		t.Fatalf("got %d %q, want 403", status, body)
	}
	if s := nodes[1].node.Stats(); s.Forwarded[KindPollingPost][ResultRefused] != 1 {
		t.Fatalf("forwarding node: %+v", s.Forwarded)
	}
	if s := nodes[0].node.Stats(); s.Rejected[RejectSignature] != 1 || len(nodes[0].echo.messages()) != 0 {
		t.Fatalf("owner: %+v, got %q", s.Rejected, nodes[0].echo.messages())
	}
}

func TestForwardOwnerGone(t *testing.T) {
	nodes := startNodes(t, 3)
	c := client(t)
	const unknown = `{"code":1,"message":"Session ID unknown"}`

	// Closed cleanly: unregistered, so the sid names no node.
	sid := handshake(t, c, nodes[0])
	do(t, c, http.MethodPost, nodes[0].url+query(sid), "1", nil) // (spares Shutdown the wait for a last GET)
	nodes[0].stop(t)
	status, body := do(t, c, http.MethodGet, nodes[1].url+query(sid), "", nil)
	if status != http.StatusBadRequest || body != unknown {
		t.Fatalf("owner closed: %d %q", status, body)
	}
	if s := nodes[1].node.Stats(); s.Forwarded[KindPollingGet][ResultUnknownNode] != 1 {
		t.Fatalf("stats %+v", s.Forwarded)
	}

	// Gone without unregistering (killed): registered, but unreachable.
	sid = handshake(t, c, nodes[2])
	do(t, c, http.MethodPost, nodes[1].url+query(sid), "1", nil) // caches node 2's address
	nodes[2].ts.CloseClientConnections()
	nodes[2].ts.Close()
	status, body = do(t, c, http.MethodPost, nodes[1].url+query(sid), "4x", nil)
	if status != http.StatusBadRequest || body != unknown {
		t.Fatalf("owner unreachable: %d %q", status, body)
	}
	if s := nodes[1].node.Stats(); s.Forwarded[KindPollingPost][ResultUnreachable] != 1 {
		t.Fatalf("stats %+v", s.Forwarded)
	}
}

func TestForwardedRequestsAreNotForwardedAgain(t *testing.T) {
	nodes := startNodes(t, 2)
	c := client(t)
	sid := handshake(t, c, nodes[1])
	// A request signed for node 0 but naming node 1's session (as after a
	// restart of node 0 at the address of node 1): node 0 refuses it.
	uri := "/socket.io/" + query(sid)
	h := http.Header{}
	nodes[0].node.sign(h, http.MethodGet, uri, nodes[0].ts.Listener.Addr().String(), "127.0.0.2:1", time.Now(), nil)
	status, body := do(t, c, http.MethodGet, nodes[0].url+query(sid), "", h)
	if status != http.StatusBadRequest || !strings.Contains(body, "Session ID unknown") {
		t.Fatalf("got %d %q", status, body)
	}
	if s := nodes[0].node.Stats(); s.Forwarded != ([numKinds][numResults]uint64{}) {
		t.Fatalf("node 0 forwarded: %+v", s.Forwarded)
	}
}

func TestNotForwarded(t *testing.T) {
	nodes := startNodes(t, 1)
	c := client(t)
	for _, sid := range []string{"nodot", "short.x", "bad!char.xxxxxxxxxxxxxxxxxxxx", nodes[0].node.ID() + ".not-a-session", "AAAAAAAA.no-such-node"} {
		status, body := do(t, c, http.MethodGet, nodes[0].url+query(sid), "", nil)
		if status != http.StatusBadRequest || !strings.Contains(body, "Session ID unknown") {
			t.Fatalf("sid %q: %d %q", sid, status, body)
		}
	}
	if s := nodes[0].node.Stats(); s.Forwarded[KindPollingGet][ResultUnknownNode] != 1 {
		t.Fatalf("stats %+v", s.Forwarded)
	}
}

func TestRegistryHeartbeat(t *testing.T) {
	rdb := newRedis(t)
	key := "forward-test-" + rand.Text()
	n, err := New(Config{Redis: rdb, Key: key, Secret: testSecret, TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), "10.0.0.7:3000"); err != nil {
		t.Fatal(err)
	}
	rkey := key + "#sockgate#node#" + n.ID()
	// Well past the TTL, the heartbeat keeps the entry.
	waitFor(t, 10*time.Second, "heartbeats", func() bool { return n.Stats().Heartbeats >= 6 })
	if v, err := rdb.Get(context.Background(), rkey).Result(); err != nil || v != "10.0.0.7:3000" {
		t.Fatalf("registry entry %q, %v", v, err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Exists(context.Background(), rkey).Result(); err != nil || v != 0 {
		t.Fatalf("entry left after Close: %d, %v", v, err)
	}
}

func TestConfigAndAddress(t *testing.T) {
	rdb := newRedis(t)
	for _, cfg := range []Config{
		{Secret: testSecret},
		{Redis: rdb},
		{Redis: rdb, Secret: []byte("short")},
		{Redis: rdb, Secret: testSecret, TTL: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	n, err := New(Config{Redis: rdb, Secret: testSecret, Key: "forward-test-" + rand.Text()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if len(n.ID()) != idLen || n.SessionIDPrefix() != n.ID()+"." {
		t.Fatalf("id %q, prefix %q", n.ID(), n.SessionIDPrefix())
	}
	for _, addr := range []string{"", ":3000", "0.0.0.0:3000", "[::]:3000", "10.0.0.1", "10.0.0.1:0"} {
		if err := n.Start(context.Background(), addr); err == nil {
			t.Fatalf("Start(%q) accepted", addr)
		}
	}
	if err := n.Start(context.Background(), "gw-0.gw.default.svc:3000"); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), "10.0.0.1:3000"); err == nil {
		t.Fatal("second Start accepted")
	}
}

func TestOwnerOf(t *testing.T) {
	tests := []struct {
		sid, id string
		ok      bool
	}{
		{"AbCd-_12.xxxxxxxxxxxxxxxxxxxx", "AbCd-_12", true},
		{"AbCd-_12.", "AbCd-_12", true},
		{"xxxxxxxxxxxxxxxxxxxx", "", false},
		{"AbCd-_1.xxxx", "", false},
		{"AbCd-_123.xxxx", "", false},
		{"AbCd+_12.xxxx", "", false},
	}
	for _, tt := range tests {
		id, ok := ownerOf(tt.sid)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ownerOf(%q) = %q, %v", tt.sid, id, ok)
		}
	}
}

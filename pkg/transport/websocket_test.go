package transport

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

func (ts *testServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ts.url, "http") + query
}

func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func read(t testing.TB, ws *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

func write(t testing.TB, ws *websocket.Conn, typ websocket.MessageType, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, typ, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readClosed reads until the server closes ws and returns the read error.
func readClosed(t testing.TB, ws *websocket.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 100; i++ {
		if _, _, err := ws.Read(ctx); err != nil {
			return err
		}
	}
	t.Fatal("websocket not closed")
	return nil
}

func TestWebSocketHandshakeAndEcho(t *testing.T) {
	ts := newTestServer(t, Config{})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	typ, open := read(t, ws)
	if typ != websocket.MessageText || !strings.HasPrefix(open, "0{") {
		t.Fatalf("first frame %v %q", typ, open)
	}
	o, err := engineio.ParseOpen([]byte(open[1:]))
	if err != nil || len(o.Upgrades) != 0 || !strings.Contains(open, `"upgrades":[]`) || o.PingInterval != 25000 {
		t.Fatalf("open %q: %v", open, err)
	}
	c := ts.rec.waitOpen(t)
	if c.Transport() != TransportWebSocket || c.ID() != o.SID {
		t.Fatal("conn")
	}

	write(t, ws, websocket.MessageText, "4hello €")
	if m := ts.rec.waitMessage(t); m.data != "hello €" || m.binary {
		t.Fatalf("got %+v", m)
	}
	if typ, s := read(t, ws); typ != websocket.MessageText || s != "4hello €" {
		t.Fatalf("echo %v %q", typ, s)
	}
	write(t, ws, websocket.MessageBinary, "\x00\xff\x01")
	if m := ts.rec.waitMessage(t); m.data != "\x00\xff\x01" || !m.binary {
		t.Fatalf("got %+v", m)
	}
	if typ, s := read(t, ws); typ != websocket.MessageBinary || s != "\x00\xff\x01" {
		t.Fatalf("echo %v %q", typ, s)
	}
	if st := ts.Stats(); st.OpenWebSocket != 1 || st.PacketsIn != 2 {
		t.Fatalf("stats %+v", st)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportClose {
		t.Fatalf("reason %q", e.reason)
	}
	checkFor(t, 5*time.Second, "count 0", func() bool { return ts.Count() == 0 })
}

func TestWebSocketBatchedFramesInOrder(t *testing.T) {
	ts := newTestServer(t, Config{})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	c := ts.rec.waitOpen(t)
	const n = 200
	for i := 0; i < n; i++ {
		f := engineio.TextFrame(engineio.PacketMessage, []byte(strings.Repeat("x", i)))
		if i%3 == 0 {
			f = engineio.Frame{Data: []byte(strings.Repeat("y", i)), Binary: true}
		}
		if err := c.Send([]engineio.Frame{f}, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		typ, s := read(t, ws)
		want := "4" + strings.Repeat("x", i)
		wantTyp := websocket.MessageText
		if i%3 == 0 {
			want, wantTyp = strings.Repeat("y", i), websocket.MessageBinary
		}
		if typ != wantTyp || s != want {
			t.Fatalf("frame %d: %v %q", i, typ, s)
		}
	}
}

func TestWebSocketInvalidUTF8ClosesOnlyThatConnection(t *testing.T) {
	ts := newTestServer(t, Config{})
	good := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, good)
	goodConn := ts.rec.waitOpen(t)
	bad := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, bad)
	badConn := ts.rec.waitOpen(t)

	write(t, bad, websocket.MessageText, "4\xff\xfe")
	e := ts.rec.waitClose(t)
	if e.conn != badConn || e.reason != ReasonTransportError {
		t.Fatalf("closed %v %q", e.conn == goodConn, e.reason)
	}
	if err := readClosed(t, bad); websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("client saw %v", err)
	}
	write(t, good, websocket.MessageText, "4still here")
	if _, s := read(t, good); s != "4still here" {
		t.Fatalf("good conn got %q", s)
	}
	if ts.Stats().Errors.InvalidUTF8 != 1 {
		t.Fatal("not counted")
	}
}

func TestWebSocketOversizeMessage(t *testing.T) {
	ts := newTestServer(t, Config{MaxPayload: 100})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	ts.rec.waitOpen(t)
	write(t, ws, websocket.MessageText, "4"+strings.Repeat("x", 100))
	if e := ts.rec.waitClose(t); e.reason != ReasonTransportError {
		t.Fatalf("reason %q", e.reason)
	}
	if err := readClosed(t, ws); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("client saw %v", err)
	}
	st := ts.Stats()
	if st.Errors.PayloadTooLarge != 1 || st.Closes.PayloadTooLarge != 1 || st.Closes.TransportError != 0 {
		t.Fatalf("payload too large: errors %d, closes %+v", st.Errors.PayloadTooLarge, st.Closes)
	}
}

func TestWebSocketHandshakeCookie(t *testing.T) {
	ts := newTestServer(t, Config{Cookie: "io"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, ts.wsURL("?EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, open := read(t, ws)
	c := ts.rec.waitOpen(t)
	want := "io=" + c.ID() + "; Path=/; HttpOnly; SameSite=Lax"
	if got := resp.Header.Get("Set-Cookie"); got != want || !strings.Contains(open, c.ID()) {
		t.Fatalf("Set-Cookie %q, want %q (open packet %s)", got, want, open)
	}
}

func TestWebSocketBadPacket(t *testing.T) {
	ts := newTestServer(t, Config{})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	ts.rec.waitOpen(t)
	write(t, ws, websocket.MessageText, "x")
	if e := ts.rec.waitClose(t); e.reason != ReasonParseError {
		t.Fatalf("reason %q", e.reason)
	}
}

func TestHeartbeat(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	ts.rec.waitOpen(t)
	// Answer three pings: the session stays open.
	for i := 0; i < 3; i++ {
		if _, s := read(t, ws); s != "2" {
			t.Fatalf("got %q, want ping", s)
		}
		write(t, ws, websocket.MessageText, "3")
	}
	// Then stay silent.
	if _, s := read(t, ws); s != "2" {
		t.Fatalf("got %q, want ping", s)
	}
	start := time.Now()
	if e := ts.rec.waitClose(t); e.reason != ReasonPingTimeout {
		t.Fatalf("reason %q", e.reason)
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("closed after %v, before PingTimeout", d)
	}
	if ts.Stats().Closes.PingTimeout != 1 {
		t.Fatal("not counted")
	}
}

func TestPollingPingTimeout(t *testing.T) {
	ts := newTestServer(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 30 * time.Millisecond})
	p := ts.pollHandshake(t)
	ts.rec.waitOpen(t)
	if _, body := p.get(); body != "2" {
		t.Fatalf("GET = %q, want ping", body)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonPingTimeout {
		t.Fatalf("reason %q", e.reason)
	}
}

func TestUpgrade(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)

	// A GET is pending when the probe starts: it is released with a noop.
	pending := make(chan string, 1)
	go func() { _, b := p.get(); pending <- b }()
	waitPollPending(t, c)
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	write(t, ws, websocket.MessageText, "2probe")
	if _, s := read(t, ws); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	if b := <-pending; b != "6" {
		t.Fatalf("pending GET = %q, want noop", b)
	}
	// Messages sent during the upgrade wait for the websocket; volatile ones
	// are dropped.
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("queued"))}, false)
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("volatile"))}, true)
	write(t, ws, websocket.MessageText, "5")
	if _, s := read(t, ws); s != "4queued" {
		t.Fatalf("after upgrade %q", s)
	}
	checkFor(t, 5*time.Second, "websocket transport", func() bool { return c.Transport() == TransportWebSocket })
	write(t, ws, websocket.MessageText, "4over ws")
	if m := ts.rec.waitMessage(t); m.data != "over ws" {
		t.Fatalf("got %+v", m)
	}
	if _, s := read(t, ws); s != "4over ws" {
		t.Fatalf("echo %q", s)
	}
	st := ts.Stats()
	if st.Upgrades != 1 || st.OpenWebSocket != 1 || st.OpenPolling != 0 || st.VolatileDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Polling requests are now refused.
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("polling after upgrade: %d", status)
	}
	// A second websocket with the same sid completes its handshake and is
	// closed at once; the first carries on.
	second := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	if err := readClosed(t, second); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("second websocket: %v", err)
	}
	write(t, ws, websocket.MessageText, "4still here")
	if m := ts.rec.waitMessage(t); m.data != "still here" {
		t.Fatalf("got %+v", m)
	}
	if _, s := read(t, ws); s != "4still here" {
		t.Fatalf("echo %q", s)
	}
	if st := ts.Stats(); st.Errors.DuplicateWS != 1 || st.OpenWebSocket != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSecondWebSocketDuringUpgrade(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	write(t, ws, websocket.MessageText, "2probe")
	if _, s := read(t, ws); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	// The upgrade in progress keeps its probe: the newcomer is closed.
	second := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	if err := readClosed(t, second); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("second websocket: %v", err)
	}
	write(t, ws, websocket.MessageText, "5")
	checkFor(t, 5*time.Second, "websocket transport", func() bool { return c.Transport() == TransportWebSocket })
}

func TestUpgradeTimeout(t *testing.T) {
	ts := newTestServer(t, Config{UpgradeTimeout: 50 * time.Millisecond})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	readClosed(t, ws) // never probed: closed after UpgradeTimeout
	// The session carries on over polling.
	_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("x"))}, false)
	if _, b := p.get(); b != "4x" {
		t.Fatalf("GET = %q", b)
	}
	if c.Transport() != TransportPolling {
		t.Fatal("transport changed")
	}
}

func TestSlowConsumer(t *testing.T) {
	ts := newTestServer(t, Config{WriteQueueBytes: 1000})
	ts.pollHandshake(t) // never polls again
	c := ts.rec.waitOpen(t)
	big := engineio.TextFrame(engineio.PacketMessage, make([]byte, 600))
	if err := c.Send([]engineio.Frame{big}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Send([]engineio.Frame{big}, true); err != nil {
		t.Fatalf("volatile overflow: %v", err)
	}
	if err := c.Send([]engineio.Frame{big}, false); err != ErrSlowConsumer {
		t.Fatalf("got %v, want ErrSlowConsumer", err)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonForcedClose {
		t.Fatalf("reason %q", e.reason)
	}
	if st := ts.Stats(); st.SlowConsumerCloses != 1 || st.VolatileDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestShutdown(t *testing.T) {
	ts := newTestServer(t, Config{})
	var wss []*websocket.Conn
	for i := 0; i < 5; i++ {
		ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
		read(t, ws)
		ts.rec.waitOpen(t)
		wss = append(wss, ws)
	}
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	pending := make(chan string, 1)
	go func() { _, b := p.get(); pending <- b }()
	waitPollPending(t, c)
	_ = wss[0].Close
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The clients read, so the close handshakes complete.
	for _, ws := range wss {
		go func() { _, _, _ = ws.Read(ctx) }()
	}
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if b := <-pending; b != "1" {
		t.Fatalf("pending GET = %q", b)
	}
	for i := 0; i < 6; i++ {
		if e := ts.rec.waitClose(t); e.reason != ReasonServerShutdown {
			t.Fatalf("reason %q", e.reason)
		}
	}
	if ts.Count() != 0 {
		t.Fatalf("count %d", ts.Count())
	}
	status, _ := httpDo(t, "GET", ts.url+"?EIO=4&transport=polling", "")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("handshake after shutdown: %d", status)
	}
	checkLeaks(t)
}

// TestWebSocketServerCloseWhileClientSends closes sessions gracefully while
// their clients keep sending: the close handshake and the reader must not
// race (run with -race).
func TestWebSocketServerCloseWhileClientSends(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.rec.echo = false
	for i := 0; i < 10; i++ {
		ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
		read(t, ws)
		c := ts.rec.waitOpen(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				if ws.Write(ctx, websocket.MessageText, []byte("4x")) != nil {
					return
				}
			}
		}()
		go func() {
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		ts.rec.waitMessage(t)
		stopDrain := make(chan struct{})
		drained := make(chan struct{})
		go func() { // keep OnMessage from blocking on a full channel
			defer close(drained)
			for {
				select {
				case <-ts.rec.msgs:
				case <-stopDrain:
					return
				}
			}
		}()
		_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte("bye"))}, false)
		c.Close(ReasonForcedClose)
		<-done
		cancel()
		for e := ts.rec.waitClose(t); e.conn != c; e = ts.rec.waitClose(t) {
		}
		close(stopDrain)
		<-drained
	}
}

// TestUpgradeBackToBack sends "2probe" and "5" without waiting, as the
// protocol test suite does, then checks that polling is refused.
func TestUpgradeBackToBack(t *testing.T) {
	ts := newTestServer(t, Config{})
	p := ts.pollHandshake(t)
	c := ts.rec.waitOpen(t)
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket&sid="+p.sid))
	write(t, ws, websocket.MessageText, "2probe")
	write(t, ws, websocket.MessageText, "5")
	if _, s := read(t, ws); s != "3probe" {
		t.Fatalf("got %q", s)
	}
	checkFor(t, 5*time.Second, "upgrade", func() bool { return c.Transport() == TransportWebSocket })
	if status, _ := p.get(); status != http.StatusBadRequest {
		t.Fatalf("polling after upgrade: %d", status)
	}
	write(t, ws, websocket.MessageText, "4hello")
	if _, s := read(t, ws); s != "4hello" {
		t.Fatalf("echo %q", s)
	}
}

// TestWebSocketWritesWhileClientStalls fills the socket so that senders'
// non-blocking writes leave bytes behind for the writer goroutine: every
// sender's frames must still arrive whole and in order.
func TestWebSocketWritesWhileClientStalls(t *testing.T) {
	for _, tt := range []struct {
		name string
		send func(c *Conn, frames []engineio.Frame) error
	}{
		{"Send", func(c *Conn, f []engineio.Frame) error { return c.Send(f, false) }},
		{"Enqueue", func(c *Conn, f []engineio.Frame) error { return c.Enqueue(f, false) }},
	} {
		t.Run(tt.name, func(t *testing.T) { testWritesWhileClientStalls(t, tt.send) })
	}
}

func testWritesWhileClientStalls(t *testing.T, send func(*Conn, []engineio.Frame) error) {
	ts := newTestServer(t, Config{WriteQueueBytes: 256 << 20})
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	c := ts.rec.waitOpen(t)
	const senders, perSender, size = 4, 400, 8 << 10 // 12.5 MiB, more than loopback buffers hold
	done := make(chan error, senders)
	for g := 0; g < senders; g++ {
		go func() {
			for i := 0; i < perSender; i++ {
				body := fmt.Sprintf("%d:%d:", g, i)
				body += strings.Repeat("z", size-len(body))
				if err := send(c, []engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte(body))}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the buffers fill before reading
	// A ping now: the library's pong must not land inside a frame that a
	// non-blocking write left half written.
	pinged := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pinged <- ws.Ping(ctx)
	}()
	next := make([]int, senders)
	for k := 0; k < senders*perSender; k++ {
		_, s := read(t, ws)
		var g, i int
		if _, err := fmt.Sscanf(s, "4%d:%d:", &g, &i); err != nil || g < 0 || g >= senders {
			t.Fatalf("frame %d: %.40q", k, s)
		}
		if i != next[g] || len(s) != size+1 {
			t.Fatalf("sender %d: got frame %d (%d bytes), want %d", g, i, len(s), next[g])
		}
		next[g]++
	}
	for g := 0; g < senders; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	ws.CloseRead(context.Background()) // reads the pong, if it comes last
	if err := <-pinged; err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestWebSocketGracefulCloseSurvivesClientInput closes a session with much
// queued while the client still sends: the reader must not cut the flush
// short, so every queued frame arrives before the close frame.
func TestWebSocketGracefulCloseSurvivesClientInput(t *testing.T) {
	ts := newTestServer(t, Config{WriteQueueBytes: 64 << 20})
	ts.rec.echo = false
	ws := dial(t, ts.wsURL("?EIO=4&transport=websocket"))
	read(t, ws)
	c := ts.rec.waitOpen(t)
	const frames, size = 64, 256 << 10 // 16 MiB, more than loopback buffers hold
	for i := 0; i < frames; i++ {
		body := fmt.Sprintf("%d:", i)
		body += strings.Repeat("z", size-len(body))
		if err := c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte(body))}, false); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(ReasonForcedClose)
	in := ts.Stats().PacketsIn
	write(t, ws, websocket.MessageText, "4hello")
	// Give the server's reader the message before the client reads; a
	// closed session counts it but hands it to no one.
	deadline := time.Now().Add(2 * time.Second)
	for ts.Stats().PacketsIn == in && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < frames; i++ {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, frames, err)
		}
		if want := fmt.Sprintf("4%d:", i); !strings.HasPrefix(string(b), want) || len(b) != size+1 {
			t.Fatalf("frame %d: %.20q (%d bytes)", i, b, len(b))
		}
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the frames: %v, want a normal close", err)
	}
	if e := ts.rec.waitClose(t); e.reason != ReasonForcedClose {
		t.Fatalf("reason %q", e.reason)
	}
}

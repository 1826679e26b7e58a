package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/proxy"
	"github.com/sockgate/sockgate/pkg/session"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend answers every proxy request with answer(path, body).
func backend(tb testing.TB, answer func(path string, body map[string]any) (int, string)) string {
	tb.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		code, text := answer(r.URL.Path, body)
		w.WriteHeader(code)
		io.WriteString(w, text)
	}))
	tb.Cleanup(hs.Close)
	return hs.URL
}

// gateway serves a session server with p attached (or, with p nil, an
// event handler that acks its arguments) and returns its websocket URL.
func gateway(tb testing.TB, p *proxy.Proxy) string {
	tb.Helper()
	srv, err := session.NewServer(session.Config{Logger: quiet, InlineHandlers: p == nil})
	if err != nil {
		tb.Fatal(err)
	}
	if p != nil {
		p.Attach(srv.Sockets())
	} else {
		srv.OnConnection(func(s *session.Socket) {
			s.OnAny(func(s *session.Socket, ev *session.Event) { ev.AckRaw([]byte("[1]"), nil) })
		})
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
		if p != nil {
			p.Close(context.Background())
		}
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

func newProxy(tb testing.TB, cfg proxy.Config) *proxy.Proxy {
	tb.Helper()
	cfg.Logger = quiet
	p, err := proxy.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// client is a minimal Socket.IO client over a websocket, read by its
// caller (pings answered on the way).
type client struct {
	tb testing.TB
	ws *websocket.Conn
}

func dial(tb testing.TB, url, auth string) (*client, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ws.CloseNow() })
	c := &client{tb: tb, ws: ws}
	if open := c.read(); open[0] != '0' {
		tb.Fatalf("open packet %q", open)
	}
	c.send("40" + auth)
	return c, c.read()
}

func (c *client) send(s string) {
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *client) read() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.tb.Fatal(err)
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

func TestConnect(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		answer string
		delay  time.Duration
		want   string
	}{
		{"accepted", 200, `{"accept":true,"user":"42","rooms":["user:42"],"data":{"a":1}}`, 0, `40{"sid":"`},
		{"refused", 200, `{"accept":false,"message":"go away","data":{"code":7}}`, 0, `44{"message":"go away","data":{"code":7}}`},
		{"refused without a message", 200, `{"accept":false}`, 0, `44{"message":"connection refused"}`},
		{"accept missing", 200, `{}`, 0, `44{"message":"connection refused"}`},
		{"status 500", 500, `{"accept":true}`, 0, `44{"message":"backend unavailable"}`},
		{"bad JSON", 200, `{"accept":`, 0, `44{"message":"backend unavailable"}`},
		{"timeout", 200, `{"accept":true}`, 2 * time.Second, `44{"message":"backend unavailable"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := backend(t, func(string, map[string]any) (int, string) {
				time.Sleep(tt.delay)
				return tt.code, tt.answer
			})
			p := newProxy(t, proxy.Config{ConnectURL: url, Timeout: 300 * time.Millisecond})
			_, got := dial(t, gateway(t, p), `{"token":"x"}`)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %s, want %s…", got, tt.want)
			}
		})
	}
}

func TestEventAnswers(t *testing.T) {
	const unavailable = `431[{"error":"backend unavailable"}]`
	tests := []struct {
		name   string
		code   int
		answer string
		want   string
	}{
		{"ack", 200, `{"ack":[1,"a",{"b":null}]}`, `431[1,"a",{"b":null}]`},
		{"no ack in the answer", 200, `{}`, `431[]`},
		{"binary ack", 200, `{"ack":[{"_placeholder":true,"num":0}],"attachments":["AQI="]}`, `461-1[{"_placeholder":true,"num":0}]`},
		{"placeholder past the attachments", 200, `{"ack":[{"_placeholder":true,"num":1}],"attachments":["AQI="]}`, unavailable},
		{"reserved event in an emit", 200, `{"ack":[1],"emit":[{"event":"connect"}]}`, unavailable},
		{"emit without event", 200, `{"ack":[1],"emit":[{"rooms":["a"]}]}`, unavailable},
		{"empty room", 200, `{"ack":[1],"join":[""]}`, unavailable},
		{"bad base64", 200, `{"ack":[1],"attachments":["!"]}`, unavailable},
		{"status 404", 404, `{"ack":[1]}`, unavailable},
		{"not JSON", 200, `ok`, unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := backend(t, func(string, map[string]any) (int, string) { return tt.code, tt.answer })
			p := newProxy(t, proxy.Config{EventURL: url})
			c, _ := dial(t, gateway(t, p), "")
			c.send(`421["ask",{"n":9007199254740993}]`)
			if got := c.read(); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestEventRawArgs: the backend gets an event's arguments as the bytes
// the client sent (big numbers, escapes, <>&), whitespace aside.
func TestEventRawArgs(t *testing.T) {
	got := make(chan string, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		io.WriteString(w, `{}`)
	}))
	defer hs.Close()
	c, _ := dial(t, gateway(t, newProxy(t, proxy.Config{EventURL: hs.URL})), "")
	const args = `[9007199254740993,"<a href=\"x\">&amp;</a>","\u00e9t\u00e9",1.50]`
	c.send(`42["raw",` + args[1:])
	if body := <-got; !strings.Contains(body, `"args":`+args) {
		t.Errorf("body %s does not carry %s", body, args)
	}
}

func TestEventRequest(t *testing.T) {
	got := make(chan map[string]any, 1)
	url := backend(t, func(path string, body map[string]any) (int, string) {
		got <- body
		return 200, `{"emit":[{"rooms":[],"event":"news","args":[1]}]}`
	})
	p := newProxy(t, proxy.Config{EventURL: url, Claims: func(*session.Socket) any { return map[string]string{"role": "x"} }})
	c, connected := dial(t, gateway(t, p), "")
	c.send(`451-["up",{"_placeholder":true,"num":0}]`)
	c.ws.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3})
	body := <-got
	sid := strings.TrimSuffix(strings.TrimPrefix(connected, `40{"sid":"`), `"}`)
	want := map[string]any{
		"namespace": "/", "sid": sid, "user": "", "data": nil, "rooms": []any{sid}, "event": "up",
		"args": []any{map[string]any{"_placeholder": true, "num": 0.0}}, "attachments": []any{"AQID"},
		"claims": map[string]any{"role": "x"},
	}
	if a, b := mustJSON(t, body), mustJSON(t, want); a != b {
		t.Errorf("request\n got %s\nwant %s", a, b)
	}
	if got := c.read(); got != `42["news",1]` {
		t.Errorf("emit: got %s", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDisconnectRetries(t *testing.T) {
	tests := []struct {
		name  string
		codes []int
		want  int // requests
	}{
		{"ok", []int{200}, 1},
		{"5xx retried", []int{503, 502, 200}, 3},
		{"at most 3 attempts", []int{500, 500, 500, 500}, 3},
		{"4xx final", []int{400, 200}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			var mu sync.Mutex
			var body map[string]any
			url := backend(t, func(_ string, b map[string]any) (int, string) {
				i := n.Add(1) - 1
				mu.Lock()
				body = b
				mu.Unlock()
				return tt.codes[min(int(i), len(tt.codes)-1)], `{}`
			})
			p := newProxy(t, proxy.Config{DisconnectURL: url})
			c, _ := dial(t, gateway(t, p), "")
			c.send("41")
			deadline := time.Now().Add(5 * time.Second)
			for int(n.Load()) < tt.want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			p.Close(context.Background()) // waits for the retries in progress
			if got := int(n.Load()); got != tt.want {
				t.Fatalf("%d requests, want %d", got, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if body["reason"] != "client namespace disconnect" || body["namespace"] != "/" {
				t.Errorf("body %v", body)
			}
			if st := p.Stats(); st.Disconnect.Requests != uint64(tt.want) {
				t.Errorf("Stats %+v", st.Disconnect)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []proxy.Config{{}, {EventURL: "ftp://x/"}, {ConnectURL: "http://"}, {DisconnectURL: "::"}} {
		if _, err := proxy.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// BenchmarkEventRoundTrip measures one client's event → ack round trip
// with a handler that acks at once ("handler") and through the event proxy
// to a loopback backend ("proxy"); the difference is what the proxy adds
// per event. Parallel runs 8 clients at once for round trips per second.
func BenchmarkEventRoundTrip(b *testing.B) {
	url := backend(b, func(string, map[string]any) (int, string) { return 200, `{"ack":[1]}` })
	for _, mode := range []string{"handler", "proxy"} {
		var p *proxy.Proxy
		if mode == "proxy" {
			p = newProxy(b, proxy.Config{EventURL: url})
		}
		ws := gateway(b, p)
		b.Run(mode, func(b *testing.B) {
			c, _ := dial(b, ws, "")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.send(`421["ping",{"t":1}]`)
				if got := c.read(); got != "431[1]" {
					b.Fatalf("got %s", got)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
		})
		b.Run(mode+"/parallel8", func(b *testing.B) {
			par := max(1, 8/runtime.GOMAXPROCS(0))
			n := par * runtime.GOMAXPROCS(0) // RunParallel's goroutines
			clients := make(chan *client, n)
			for range n {
				c, _ := dial(b, ws, "")
				clients <- c
			}
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := <-clients
				for pb.Next() {
					c.send(`421["ping",{"t":1}]`)
					if got := c.read(); got != "431[1]" {
						b.Errorf("got %s", got)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
		})
	}
}

package redis

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// nodeRoot is the directory holding package.json and node_modules.
func nodeRoot(t *testing.T) string {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node not installed")
	}
	dir, _ := filepath.Abs("../../..")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@socket.io", "redis-adapter")); err != nil {
		skip("node_modules missing: run npm ci")
	}
	return dir
}

// nodePeer is a running testdata/node-peer.mjs.
type nodePeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	sid    string
	mu     sync.Mutex
	nextID int
	waits  map[int]chan json.RawMessage
	events chan map[string]json.RawMessage
	done   chan struct{}
}

func startNodePeer(t *testing.T, root, redisURL, key, mode string) *nodePeer {
	t.Helper()
	cmd := exec.Command("node", "testdata/node-peer.mjs")
	cmd.Env = append(os.Environ(), "NODE_ROOT="+root, "REDIS_URL="+redisURL, "KEY="+key, "MODE="+mode, "STREAM="+key+"-stream")
	cmd.Stderr = testWriter{t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodePeer{t: t, cmd: cmd, stdin: stdin, waits: map[int]chan json.RawMessage{},
		events: make(chan map[string]json.RawMessage, 100), done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			switch {
			case m["ready"] != nil:
				var sid string
				_ = json.Unmarshal(m["sid"], &sid)
				ready <- sid
			case m["event"] != nil:
				select {
				case p.events <- m:
				default:
				}
			case m["id"] != nil:
				var id int
				_ = json.Unmarshal(m["id"], &id)
				p.mu.Lock()
				ch := p.waits[id]
				p.mu.Unlock()
				if ch != nil {
					res := m["result"]
					if m["error"] != nil {
						res = json.RawMessage(`{"error":` + string(m["error"]) + `}`)
					}
					ch <- res
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		_ = cmd.Wait()
	})
	select {
	case p.sid = <-ready:
	case <-p.done:
		t.Fatal("node peer exited before it was ready")
	case <-time.After(20 * time.Second):
		t.Fatal("node peer not ready")
	}
	return p
}

func (p *nodePeer) call(cmd map[string]any) json.RawMessage {
	p.t.Helper()
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan json.RawMessage, 1)
	p.waits[id] = ch
	p.mu.Unlock()
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
	select {
	case res := <-ch:
		return res
	case <-time.After(10 * time.Second):
		p.t.Fatalf("node peer: no answer to %s", b)
		return nil
	}
}

// waitEvent waits for an event line matching match.
func (p *nodePeer) waitEvent(what string, match func(m map[string]json.RawMessage) bool) map[string]json.RawMessage {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-p.events:
			if match(m) {
				return m
			}
		case <-deadline:
			p.t.Fatalf("node peer: no %s", what)
			return nil
		}
	}
}

// goLocal is the Go node's namespace in the interop test.
type goLocal struct {
	mu         sync.Mutex
	deliveries []*socketio.Packet
	emits      []string
}

func (l *goLocal) Name() string { return "/" }
func (l *goLocal) Deliver(pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket]) {
	n := 0
	for range to {
		n++
	}
	if n > 0 {
		l.mu.Lock()
		l.deliveries = append(l.deliveries, pkt)
		l.mu.Unlock()
	}
}
func (l *goLocal) DeliverWithAck(ctx context.Context, pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket], ack func(*socketio.Packet)) int {
	n := 0
	for range to {
		n++
		ack(&socketio.Packet{Type: socketio.Ack, Data: []byte(`["ack-from-go"]`)})
	}
	return n
}
func (l *goLocal) Info(s adapter.Socket) adapter.SocketInfo {
	return adapter.SocketInfo{ID: s.ID(), Data: json.RawMessage(`{"lang":"go"}`),
		Handshake: adapter.Handshake{URL: "/socket.io/?EIO=4", Issued: 42, Time: "now", Address: "127.0.0.1"}}
}
func (l *goLocal) Disconnect(s adapter.Socket, close bool) {}
func (l *goLocal) ServerSideEmit(data json.RawMessage, ack func(json.RawMessage)) {
	l.mu.Lock()
	l.emits = append(l.emits, string(data))
	l.mu.Unlock()
	if ack != nil {
		ack(json.RawMessage(`"pong-from-go"`))
	}
}

func (l *goLocal) waitDelivery(t *testing.T, prefix string) *socketio.Packet {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l.mu.Lock()
		for _, p := range l.deliveries {
			if strings.HasPrefix(string(p.Data), prefix) {
				l.mu.Unlock()
				return p
			}
		}
		l.mu.Unlock()
	}
	t.Fatalf("no delivery starting with %s", prefix)
	return nil
}

func (l *goLocal) waitEmit(t *testing.T, prefix string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l.mu.Lock()
		ok := slices.ContainsFunc(l.emits, func(s string) bool { return strings.HasPrefix(s, prefix) })
		l.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("no server-side emit starting with %s", prefix)
}

type idSocket string

func (s idSocket) ID() string { return string(s) }

func TestNodeInterop(t *testing.T) {
	s := needRedis(t)
	root := nodeRoot(t)
	for _, mode := range []string{"classic", "sharded", "streams"} {
		t.Run(mode, func(t *testing.T) {
			sharded := mode == "sharded"
			a := newTestAdapters(t, 1, func(c *Config) { c.Sharded, c.Streams = sharded, mode == "streams" })[0]
			key := a.cfg.Key
			local := &goLocal{}
			nsp, err := a.Namespace(local)
			if err != nil {
				t.Fatal(err)
			}
			goSock := idSocket("go-socket-1")
			nsp.AddAll(goSock, string(goSock), "room1")

			peer := startNodePeer(t, root, s.URL(), key, mode)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if n, _ := nsp.ServerCount(ctx); n == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("server count never reached 2")
				}
			}

			t.Run("go broadcast reaches node client", func(t *testing.T) {
				err := nsp.Broadcast(ctx, &socketio.Packet{Type: socketio.BinaryEvent,
					Data:        []byte(`["from-go","hi",9007199254740991,{"_placeholder":true,"num":0}]`),
					Attachments: [][]byte{{0xca, 0xfe}}}, adapter.Options{Rooms: []string{"room1"}})
				if err != nil {
					t.Fatal(err)
				}
				m := peer.waitEvent("from-go", func(m map[string]json.RawMessage) bool { return string(m["name"]) == `"from-go"` })
				if got := string(m["args"]); got != `["hi",9007199254740991,{"buffer":"cafe"}]` {
					t.Fatalf("node client got %s", got)
				}
			})
			t.Run("node broadcast reaches go", func(t *testing.T) {
				peer.call(map[string]any{"cmd": "emit", "room": "room1", "event": "from-node", "args": []any{"x", 2.5, map[string]string{"buffer": "beef"}}})
				p := local.waitDelivery(t, `["from-node"`)
				if p.Type != socketio.BinaryEvent || string(p.Data) != `["from-node","x",2.5,{"_placeholder":true,"num":0}]` ||
					len(p.Attachments) != 1 || string(p.Attachments[0]) != "\xbe\xef" {
					t.Fatalf("got %d %s %x", p.Type, p.Data, p.Attachments)
				}
			})
			t.Run("node fetchSockets sees go", func(t *testing.T) {
				res := string(peer.call(map[string]any{"cmd": "fetchSockets"}))
				if !strings.Contains(res, `"id":"go-socket-1"`) || !strings.Contains(res, `"lang":"go"`) || !strings.Contains(res, peer.sid) {
					t.Fatalf("fetchSockets = %s", res)
				}
			})
			t.Run("go FetchSockets sees node", func(t *testing.T) {
				infos, err := nsp.FetchSockets(ctx, adapter.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(infos, func(s adapter.SocketInfo) bool {
					return s.ID == peer.sid && slices.Contains(s.Rooms, "room1") && s.Handshake.Issued > 0
				}) {
					t.Fatalf("FetchSockets = %+v", infos)
				}
			})
			t.Run("node serverSideEmitWithAck reaches go", func(t *testing.T) {
				res := string(peer.call(map[string]any{"cmd": "serverSideEmitWithAck", "event": "hello-go", "args": []any{1}}))
				if res != `["pong-from-go"]` {
					t.Fatalf("node got %s", res)
				}
				local.waitEmit(t, `["hello-go",1]`)
			})
			t.Run("go ServerSideEmitWithAck reaches node", func(t *testing.T) {
				replies, err := nsp.ServerSideEmitWithAck(ctx, json.RawMessage(`["ping-go",7]`))
				if err != nil || len(replies) != 1 || string(replies[0]) != `"pong-from-node"` {
					t.Fatalf("replies %s, %v", replies, err)
				}
				peer.waitEvent("serverSideEmit", func(m map[string]json.RawMessage) bool { return string(m["args"]) == `[7]` })
			})
			t.Run("go BroadcastWithAck counts node", func(t *testing.T) {
				var mu sync.Mutex
				var counts []int
				var acks []string
				err := nsp.BroadcastWithAck(ctx, &socketio.Packet{Type: socketio.Event, Data: []byte(`["ack-me"]`)},
					adapter.Options{Flags: adapter.Flags{Timeout: 3 * time.Second}},
					func(n int) { mu.Lock(); counts = append(counts, n); mu.Unlock() },
					func(p *socketio.Packet) { mu.Lock(); acks = append(acks, string(p.Data)); mu.Unlock() })
				if err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					mu.Lock()
					ok := len(counts) == 2 && len(acks) == 2
					got := fmt.Sprint(counts, acks)
					mu.Unlock()
					if ok {
						if !strings.Contains(got, `["ack-from-node-client"]`) {
							t.Fatalf("got %s", got)
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("counts/acks %s", got)
					}
				}
			})
			t.Run("node emitWithAck includes go", func(t *testing.T) {
				res := string(peer.call(map[string]any{"cmd": "emitWithAck", "event": "ack-me-node", "args": []any{}}))
				if !strings.Contains(res, "ack-from-go") || !strings.Contains(res, "ack-from-node-client") {
					t.Fatalf("node got %s", res)
				}
			})
			t.Run("go SocketsJoin reaches node", func(t *testing.T) {
				if err := nsp.SocketsJoin(ctx, adapter.Options{Rooms: []string{peer.sid}}, "joined-by-go"); err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					res := string(peer.call(map[string]any{"cmd": "fetchSockets"}))
					if strings.Contains(res, "joined-by-go") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("node sockets %s", res)
					}
				}
			})
			if mode == "classic" { // the emitter PUBLISHes in the classic format
				t.Run("emitter reaches go", func(t *testing.T) {
					peer.call(map[string]any{"cmd": "emitter", "room": "room1", "event": "from-emitter", "args": []any{5, map[string]string{"buffer": "00ff"}}})
					p := local.waitDelivery(t, `["from-emitter"`)
					if string(p.Data) != `["from-emitter",5,{"_placeholder":true,"num":0}]` || string(p.Attachments[0]) != "\x00\xff" {
						t.Fatalf("got %s %x", p.Data, p.Attachments)
					}
					peer.call(map[string]any{"cmd": "emitterServerSideEmit", "event": "from-emitter-sse", "args": []any{1}})
					local.waitEmit(t, `["from-emitter-sse",1]`)
				})
			}
			for reason, n := range a.Stats().Malformed {
				if n > 0 {
					t.Errorf("%d malformed messages (%s)", n, reason)
				}
			}
			peer.call(map[string]any{"cmd": "quit"})
		})
	}
}

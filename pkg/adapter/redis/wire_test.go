package redis

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// recLocal is a minimal adapter.Local that records what reaches it.
type recLocal struct {
	name string
	mu   sync.Mutex
	pkts []*socketio.Packet
	opts []adapter.Flags
	sse  []string
}

func (l *recLocal) Name() string { return l.name }
func (l *recLocal) Deliver(pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket]) {
	for range to {
	}
	l.mu.Lock()
	l.pkts = append(l.pkts, pkt)
	l.opts = append(l.opts, flags)
	l.mu.Unlock()
}
func (l *recLocal) DeliverWithAck(ctx context.Context, pkt *socketio.Packet, flags adapter.Flags, to iter.Seq[adapter.Socket], ack func(*socketio.Packet)) int {
	l.Deliver(pkt, flags, to)
	return 0
}
func (l *recLocal) Info(s adapter.Socket) adapter.SocketInfo { return adapter.SocketInfo{ID: s.ID()} }
func (l *recLocal) Disconnect(s adapter.Socket, close bool)  {}
func (l *recLocal) ServerSideEmit(data json.RawMessage, ack func(json.RawMessage)) {
	l.mu.Lock()
	l.sse = append(l.sse, string(data))
	l.mu.Unlock()
	if ack != nil {
		ack(json.RawMessage(`"ok"`))
	}
}

func (l *recLocal) packets() []*socketio.Packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*socketio.Packet(nil), l.pkts...)
}

// offlineNamespace is a namespace of an adapter that never touches Redis
// (its publisher queue is never drained), for encoding and decoding tests.
func offlineNamespace(t testing.TB, uid string, sharded bool) (*namespace, *recLocal) {
	t.Helper()
	a := &Adapter{
		uid: uid,
		cfg: Config{Key: "socket.io", Sharded: sharded, SubscriptionMode: Dynamic, MaxMessageSize: DefaultMaxMessageSize,
			PublishQueueSize: DefaultPublishQueueSize, PublishQueueBytes: DefaultPublishQueueBytes,
			RequestsTimeout: time.Second},
		log:        slog.New(slog.DiscardHandler),
		namespaces: map[string]*namespace{},
		badLogged:  map[string]struct{}{},
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	t.Cleanup(a.cancel)
	a.stats.init()
	a.pub.a = a
	a.pub.queue = make(chan pubItem, 1024)
	l := &recLocal{name: "/"}
	n := newNamespace(a, l)
	a.namespaces["/"] = n
	return n, l
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hexStr is the hex of a string, for writing captures readably.
func hexStr(s string) string { return hex.EncodeToString([]byte(s)) }

// Captured io.emit("hello","world",42,3.5,true,null,{a:1}) (wire format §1).
func captureEmit(t testing.TB) []byte {
	return unhex(t, "93 a6"+hexStr("sCnX8t")+" 83 a4"+hexStr("type")+" 02 a4"+hexStr("data")+" 97 a5"+hexStr("hello")+
		" a5"+hexStr("world")+" 2a cb400c000000000000 c3 c0 81 a1"+hexStr("a")+" 01 a3"+hexStr("nsp")+" a1"+hexStr("/")+
		" 83 a5"+hexStr("rooms")+" 90 a6"+hexStr("except")+" 90 a5"+hexStr("flags")+" 80")
}

func TestWireClassicBroadcastEncode(t *testing.T) {
	n, _ := offlineNamespace(t, "sCnX8t", false)
	tests := []struct {
		name    string
		pkt     *socketio.Packet
		opts    adapter.Options
		channel string
		want    []byte
	}{
		{"captured emit", &socketio.Packet{Type: socketio.Event, Data: []byte(`["hello","world",42,3.5,true,null,{"a":1}]`)},
			adapter.Options{}, "socket.io#/#", captureEmit(t)},
		{"one room", &socketio.Packet{Type: socketio.Event, Data: []byte(`["x"]`)}, adapter.Options{Rooms: []string{"room1"}},
			"socket.io#/#room1#", nil},
		{"two rooms", &socketio.Packet{Type: socketio.Event, Data: []byte(`["x"]`)}, adapter.Options{Rooms: []string{"a", "b"}, Except: []string{"c"}},
			"socket.io#/#", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, b, err := n.encodeClassicBroadcast(tt.pkt, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ch != tt.channel {
				t.Errorf("channel %q, want %q", ch, tt.channel)
			}
			if tt.want != nil && !bytes.Equal(b, tt.want) {
				t.Errorf("payload\n got %x\nwant %x", b, tt.want)
			}
			if tt.name == "captured emit" && len(b) != 78 {
				t.Errorf("%d bytes, want 78", len(b))
			}
		})
	}
}

func TestWireClassicBroadcastDecode(t *testing.T) {
	emitterBin := unhex(t, "93 a7"+hexStr("emitter")+" 83 a4"+hexStr("type")+" 02 a4"+hexStr("data")+" 92 a4"+hexStr("ebin")+
		" c4 02 de ad a3"+hexStr("nsp")+" a1"+hexStr("/")+" 83 a5"+hexStr("rooms")+" 90 a5"+hexStr("flags")+" 80 a6"+hexStr("except")+" 90")
	tests := []struct {
		name     string
		payload  []byte
		wantType socketio.Type
		wantData string
		wantAtts [][]byte
	}{
		{"captured emit", captureEmit(t), socketio.Event, `["hello","world",42,3.5,true,null,{"a":1}]`, nil},
		{"captured emitter binary", emitterBin, socketio.BinaryEvent, `["ebin",{"_placeholder":true,"num":0}]`, [][]byte{{0xde, 0xad}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, l := offlineNamespace(t, "me0000", false)
			n.onClassicBroadcast("socket.io#/#", "", tt.payload)
			pkts := l.packets()
			if len(pkts) != 1 {
				t.Fatalf("%d deliveries", len(pkts))
			}
			p := pkts[0]
			if p.Type != tt.wantType || string(p.Data) != tt.wantData || len(p.Attachments) != len(tt.wantAtts) {
				t.Fatalf("got type %d data %s atts %x", p.Type, p.Data, p.Attachments)
			}
			for i := range tt.wantAtts {
				if !bytes.Equal(p.Attachments[i], tt.wantAtts[i]) {
					t.Fatalf("attachment %d = %x", i, p.Attachments[i])
				}
			}
		})
	}
	t.Run("own echo dropped", func(t *testing.T) {
		n, l := offlineNamespace(t, "sCnX8t", false)
		n.onClassicBroadcast("socket.io#/#", "", captureEmit(t))
		if len(l.packets()) != 0 {
			t.Fatal("own broadcast delivered")
		}
	})
	t.Run("room without members skipped before decoding", func(t *testing.T) {
		n, l := offlineNamespace(t, "me0000", false)
		n.onClassicBroadcast("socket.io#/#room1#", "room1#", []byte{0xc1}) // invalid, never decoded
		if len(l.packets()) != 0 || n.a.Stats().Malformed["msgpack"] != 0 {
			t.Fatal("room message was decoded")
		}
	})
}

func TestWireClassicAckRequest(t *testing.T) {
	n, _ := offlineNamespace(t, "sCnX8t", false)
	b, err := n.encodeClassicAckRequest(&socketio.Packet{Type: socketio.Event, Data: []byte(`["ack-me",7]`)},
		adapter.Options{Flags: adapter.Flags{Timeout: 2 * time.Second}}, "pkLYFs")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 108 {
		t.Errorf("type 7 request is %d bytes, want 108", len(b))
	}
	js, _, err := msgpackToJSONDoc(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"uid":"sCnX8t","requestId":"pkLYFs","type":7,"packet":{"type":2,"data":["ack-me",7],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"timeout":2000}}}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}

	ack, err := encodeClassicAck("pkLYFs", &socketio.Packet{Type: socketio.Ack, Data: []byte(`["ack-from-cB1"]`)})
	if err != nil {
		t.Fatal(err)
	}
	wantAck := unhex(t, "83 a4"+hexStr("type")+" 09 a9"+hexStr("requestId")+" a6"+hexStr("pkLYFs")+" a6"+hexStr("packet")+" ac"+hexStr("ack-from-cB1"))
	if !bytes.Equal(ack, wantAck) {
		t.Errorf("ack\n got %x\nwant %x", ack, wantAck)
	}
	if got := string(clientCountJSON("pkLYFs", 1)); got != `{"type":8,"requestId":"pkLYFs","clientCount":1}` {
		t.Errorf("client count %s", got)
	}
}

func TestWireClassicRequestsJSON(t *testing.T) {
	n, _ := offlineNamespace(t, "sCnX8t", false)
	n.publishOp(opSocketsJoin, adapter.Options{Rooms: []string{"a"}}, []string{"r"}, false)
	n.publishOp(opDisconnect, adapter.Options{}, nil, true)
	_, fetch, _ := n.encodeFetchRequest("abcdef", adapter.Options{Except: []string{"x"}})
	_, sse, _ := n.encodeServerSideEmit("", json.RawMessage(`["ev",1]`))
	want := []string{
		`{"uid":"sCnX8t","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["r"]}`,
		`{"uid":"sCnX8t","type":4,"opts":{"rooms":[],"except":[]},"close":true}`,
	}
	for i, w := range want {
		it := <-n.a.pub.queue
		if it.channel != "socket.io-request#/#" || string(it.payload) != w {
			t.Errorf("request %d on %s: %s, want %s", i, it.channel, it.payload, w)
		}
	}
	if got := string(fetch); got != `{"uid":"sCnX8t","requestId":"abcdef","type":5,"opts":{"rooms":[],"except":["x"]}}` {
		t.Errorf("fetch %s", got)
	}
	if got := string(sse); got != `{"uid":"sCnX8t","type":6,"data":["ev",1]}` {
		t.Errorf("serverSideEmit %s", got)
	}
}

func TestWireSharded(t *testing.T) {
	n, l := offlineNamespace(t, "7abc1cbe5bcfad24", true)
	ch, b, err := n.encodeShardedBroadcast(&socketio.Packet{Type: socketio.Event, Data: []byte(`["hello",1]`)}, adapter.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":3,"data":{"packet":{"type":2,"data":["hello",1]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"7abc1cbe5bcfad24","nsp":"/"}`
	if ch != "socket.io#/#" || string(b) != want {
		t.Errorf("got %s %s", ch, b)
	}
	_, bin, err := n.encodeShardedBroadcast(&socketio.Packet{Type: socketio.BinaryEvent,
		Data: []byte(`["b",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2, 3}}}, adapter.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix := unhex(t, "84 a4"+hexStr("type")+" 03 a4"+hexStr("data")+" 82 a6"+hexStr("packet"))
	suffix := unhex(t, "a3"+hexStr("uid")+" b0"+hexStr("7abc1cbe5bcfad24")+" a3"+hexStr("nsp")+" a1"+hexStr("/"))
	if !bytes.HasPrefix(bin, prefix) || !bytes.HasSuffix(bin, suffix) || !bytes.Contains(bin, []byte{0xc4, 3, 1, 2, 3}) {
		t.Errorf("binary broadcast %x", bin)
	}
	// Channel choice (dynamic): one room → its channel, unless it looks like a socket id.
	if got := n.shardedChannel(adapter.Options{Rooms: []string{"room1"}}, ""); got != "socket.io#/#room1#" {
		t.Errorf("room channel %s", got)
	}
	if got := n.shardedChannel(adapter.Options{Rooms: []string{strings.Repeat("x", 20)}}, ""); got != "socket.io#/#" {
		t.Errorf("sid room channel %s", got)
	}
	if got := n.shardedChannel(adapter.Options{Rooms: []string{"room1"}}, "req"); got != "socket.io#/#" {
		t.Errorf("ack broadcast channel %s", got)
	}
	// A foreign node's binary broadcast is received as BINARY_EVENT.
	n.onShardedMessage("socket.io#/#", "", bytes.Replace(bin, []byte("7abc1cbe5bcfad24"), []byte("ffffffffffffffff"), 1))
	pkts := l.packets()
	if len(pkts) != 1 || pkts[0].Type != socketio.BinaryEvent || string(pkts[0].Data) != `["b",{"_placeholder":true,"num":0}]` ||
		!bytes.Equal(pkts[0].Attachments[0], []byte{1, 2, 3}) {
		t.Fatalf("got %+v", pkts)
	}
}

// TestWireSocketUser: a socket's user crosses nodes; Node's sockets have
// none, and a user that is not a string is dropped, not an error.
func TestWireSocketUser(t *testing.T) {
	infos := encodeSockets([]adapter.SocketInfo{{ID: "a", User: "42"}, {ID: "b"}})
	raw, err := json.Marshal(infos)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeSockets(raw)
	if err != nil || len(back) != 2 || back[0].User != "42" || back[1].User != "" {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(infos[1]); strings.Contains(string(b), `"user"`) {
		t.Errorf("a socket without user sends one: %s", b)
	}
	odd, err := decodeSockets(json.RawMessage(`[{"id":"c","rooms":[],"data":null,"user":{"x":1},"handshake":{}}]`))
	if err != nil || len(odd) != 1 || odd[0].User != "" {
		t.Fatalf("non-string user: %+v, %v", odd, err)
	}
}

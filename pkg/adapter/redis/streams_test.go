package redis

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// The expected values were computed with the hashCode of
// @socket.io/redis-streams-adapter 0.3.1 under Node.
func TestStreamName(t *testing.T) {
	for _, tt := range []struct {
		nsp      string
		hash     int32
		of3, of7 string
	}{
		{"/", 47, "s-2", "s-5"},
		{"/chat", 46457863, "s-1", "s-4"},
		{"/é", 1690, "s-1", "s-3"},
		{"/😀", 1818066, "s-0", "s-5"},
		{"/notifications", -1014064871, "s--2", "s--1"},
		{"/xyz123", -1981039896, "s-0", "s--3"}, // JavaScript's -0 prints as 0
		{"/game-room-lobby", -551128816, "s--1", "s-0"},
	} {
		if h := hashCode(tt.nsp); h != tt.hash {
			t.Errorf("hashCode(%q) = %d, want %d", tt.nsp, h, tt.hash)
		}
		if got := streamName(tt.nsp, "s", 3); got != tt.of3 {
			t.Errorf("streamName(%q, 3) = %q, want %q", tt.nsp, got, tt.of3)
		}
		if got := streamName(tt.nsp, "s", 7); got != tt.of7 {
			t.Errorf("streamName(%q, 7) = %q, want %q", tt.nsp, got, tt.of7)
		}
	}
	if got := streamName("/chat", "s", 1); got != "s" {
		t.Errorf("one stream: %q", got)
	}
}

func TestSessionCodec(t *testing.T) {
	for _, s := range []adapter.Session{
		{SID: "a", PID: "p", Rooms: []string{"a", "r1"}, Data: map[string]any{"user": "x", "n": 2}},
		{SID: "b", PID: "q", Rooms: []string{"b"}},
	} {
		enc, err := encodeSession(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSession(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got.SID != s.SID || got.PID != s.PID || strings.Join(got.Rooms, ",") != strings.Join(s.Rooms, ",") {
			t.Fatalf("decoded %+v from %+v", got, s)
		}
		want, _ := json.Marshal(s.Data)
		if s.Data == nil {
			if got.Data != nil {
				t.Fatalf("data %v, want nil", got.Data)
			}
			continue
		}
		var a, b any
		json.Unmarshal(want, &a)
		json.Unmarshal(got.Data.(json.RawMessage), &b)
		if ja, _ := json.Marshal(a); string(ja) != string(mustJSON(b)) {
			t.Fatalf("data %s, want %s", mustJSON(b), ja)
		}
	}
	if _, err := decodeSession("%%%"); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

type chanLocal struct {
	adapter.Local
	got chan *socketio.Packet
}

func (l *chanLocal) Name() string { return "/" }
func (l *chanLocal) Deliver(pkt *socketio.Packet, _ adapter.Flags, to iter.Seq[adapter.Socket]) {
	l.got <- pkt
}

func TestStreamsRecovery(t *testing.T) {
	ctx := context.Background()
	as := newTestAdapters(t, 2, func(c *Config) { c.Streams, c.StreamMaxLen = true, 5 })
	var nss []adapter.Namespace
	var locals []*chanLocal
	for _, a := range as {
		l := &chanLocal{got: make(chan *socketio.Packet, 1024)}
		n, err := a.Namespace(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.(adapter.Recoverer).EnableRecovery(adapter.RecoveryConfig{MaxDisconnection: time.Minute}); err != nil {
			t.Fatal(err)
		}
		nss, locals = append(nss, n), append(locals, l)
	}
	ev := func(s string) *socketio.Packet {
		return &socketio.Packet{Type: socketio.Event, Data: []byte(`["e","` + s + `"]`)}
	}
	nss[0].Broadcast(ctx, ev("1"), adapter.Options{Rooms: []string{"r1"}})
	local := <-locals[0].got
	remote := <-locals[1].got
	off := adapter.LastOffset(local.Data)
	if off == "" || adapter.LastOffset(remote.Data) != off {
		t.Fatalf("offsets: local %s remote %s", local.Data, remote.Data)
	}
	r := nss[1].(adapter.Recoverer)
	if err := r.PersistSession(ctx, adapter.Session{SID: "s1", PID: "p1", Rooms: []string{"s1", "r1"}}); err != nil {
		t.Fatal(err)
	}
	nss[0].Broadcast(ctx, ev("2"), adapter.Options{Rooms: []string{"r1"}})
	nss[0].Broadcast(ctx, ev("x"), adapter.Options{Rooms: []string{"r2"}})
	nss[0].Broadcast(ctx, ev("v"), adapter.Options{Flags: adapter.Flags{Volatile: true}})
	nss[0].Broadcast(ctx, ev("3"), adapter.Options{})
	for range 4 {
		<-locals[1].got
	}
	s, err := r.RestoreSession(ctx, "p1", off)
	if err != nil || s.SID != "s1" {
		t.Fatalf("restore: %+v %v", s, err)
	}
	if _, err := r.RestoreSession(ctx, "p1", off); !errors.Is(err, adapter.ErrUnknownSession) {
		t.Fatalf("second restore: %v", err)
	}
	missed, err := r.MissedPackets(ctx, off, s.Rooms)
	if err != nil || len(missed) != 2 || !strings.HasPrefix(string(missed[0].Data), `["e","2","`) ||
		!strings.HasPrefix(string(missed[1].Data), `["e","3","`) {
		t.Fatalf("missed %v %v", missed, err)
	}
	if _, err := r.RestoreSession(ctx, "p1", "nope"); !errors.Is(err, adapter.ErrInvalidSession) {
		t.Fatalf("bad offset: %v", err)
	}
	// Trimmed: MAXLEN ~ 5 drops the first entries once enough follow.
	r.PersistSession(ctx, adapter.Session{SID: "s2", PID: "p2", Rooms: []string{"s2"}})
	for range 300 {
		nss[0].Broadcast(ctx, ev("t"), adapter.Options{Rooms: []string{"nobody"}})
	}
	for range 300 { // stored broadcasts are delivered here once XADDed
		<-locals[0].got
	}
	if n, _ := as[0].client.XLen(ctx, as[0].cfg.StreamName).Result(); n >= 300 {
		t.Fatalf("stream length %d: not trimmed", n)
	}
	if _, err := r.RestoreSession(ctx, "p2", off); !errors.Is(err, adapter.ErrOffsetTrimmed) {
		t.Fatalf("trimmed offset: %v", err)
	}
}

// FuzzDecodeStreamEntry feeds arbitrary fields to the stream entry decoder
// and to the recovery replay path: errors, never panics.
func FuzzDecodeStreamEntry(f *testing.F) {
	f.Add("3", `{"packet":{"type":2,"data":["e",1]},"opts":{"rooms":["r"],"except":[],"flags":{}}}`)
	f.Add("4", `{"opts":{"rooms":[],"except":[]},"rooms":["x"]}`)
	b64, _ := broadcastData(&socketio.Packet{Type: socketio.BinaryEvent, Data: []byte(`["e",{"_placeholder":true,"num":0}]`),
		Attachments: [][]byte{{1, 2}}}, adapter.Options{Rooms: []string{"r"}})
	f.Add("3", b64)
	f.Add("x", "")
	f.Add("3", "{not json")
	f.Add("3", "////")
	as := []*Adapter{{cfg: Config{MaxMessageSize: 1 << 20}}}
	n := &namespace{a: as[0], name: "/"}
	f.Fuzz(func(t *testing.T, typ, data string) {
		m := goredis.XMessage{ID: "1-0", Values: map[string]any{"uid": "u", "nsp": "/", "type": typ, "data": data}}
		decodeStreamEntry(m, 1<<20)
		n.replayable(m, []string{"r"})
	})
}

// FuzzDecodeSession feeds arbitrary values to the session decoder.
func FuzzDecodeSession(f *testing.F) {
	enc, _ := encodeSession(adapter.Session{SID: "s", PID: "p", Rooms: []string{"s", "r"}, Data: map[string]int{"a": 1}})
	f.Add(enc)
	f.Add("")
	f.Add("gqNzaWShcw==")
	f.Fuzz(func(t *testing.T, raw string) {
		decodeSession(raw)
	})
}

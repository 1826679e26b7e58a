package adapter

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

func TestAppendOffset(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`["a"]`, `["a","o1"]`},
		{`["a",1,{"x":[2]}] `, `["a",1,{"x":[2]},"o1"]`},
		{`[]`, `["o1"]`},
		{`[ ]`, `[ "o1"]`},
	} {
		got := string(AppendOffset(nil, []byte(tt.in), "o1"))
		if got != tt.want {
			t.Errorf("AppendOffset(%s) = %s, want %s", tt.in, got, tt.want)
		}
		if tt.in != "[]" && tt.in != "[ ]" {
			if off := LastOffset([]byte(got)); off != "o1" {
				t.Errorf("LastOffset(%s) = %q", got, off)
			}
		}
	}
	if LastOffset([]byte(`["a"]`)) != "" || LastOffset([]byte(`["a",1]`)) != "" {
		t.Error("LastOffset found an offset in an event without one")
	}
}

func TestShouldReplay(t *testing.T) {
	rooms := []string{"sid", "r1"}
	for _, tt := range []struct {
		opts Options
		want bool
	}{
		{Options{}, true},
		{Options{Rooms: []string{"r1"}}, true},
		{Options{Rooms: []string{"r2"}}, false},
		{Options{Except: []string{"r1"}}, false},
		{Options{Rooms: []string{"r1"}, Except: []string{"sid"}}, false},
	} {
		if got := ShouldReplay(rooms, tt.opts); got != tt.want {
			t.Errorf("ShouldReplay(%v) = %v", tt.opts, got)
		}
	}
}

func TestMemoryHistoryBounds(t *testing.T) {
	ctx := context.Background()
	l := &nopLocal{}
	nsp, _ := NewMemory().Namespace(l)
	r := nsp.(Recoverer)
	if err := r.EnableRecovery(RecoveryConfig{MaxDisconnection: time.Minute, HistoryPackets: 3}); err != nil {
		t.Fatal(err)
	}
	ev := &socketio.Packet{Type: socketio.Event, Data: []byte(`["e"]`)}
	for range 5 {
		nsp.Broadcast(ctx, ev, Options{})
	}
	first := LastOffset(l.last[0].Data)
	last := LastOffset(l.last[4].Data)
	r.PersistSession(ctx, Session{SID: "s", PID: "p", Rooms: []string{"s"}})
	if _, err := r.RestoreSession(ctx, "p", first); !errors.Is(err, ErrOffsetTrimmed) {
		t.Fatalf("trimmed offset: %v", err)
	}
	r.PersistSession(ctx, Session{SID: "s", PID: "p", Rooms: []string{"s"}})
	if s, err := r.RestoreSession(ctx, "p", last); err != nil || s.SID != "s" {
		t.Fatalf("restore: %v %v", s, err)
	}
	if _, err := r.RestoreSession(ctx, "p", last); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("second restore: %v", err)
	}
	missed, err := r.MissedPackets(ctx, LastOffset(l.last[2].Data), []string{"s"})
	if err != nil || len(missed) != 2 {
		t.Fatalf("missed %d, %v", len(missed), err)
	}
	// Volatile broadcasts are not stored.
	nsp.Broadcast(ctx, ev, Options{Flags: Flags{Volatile: true}})
	if got := string(l.last[5].Data); got != `["e"]` {
		t.Fatalf("volatile delivered %s", got)
	}
}

type nopLocal struct {
	Local
	last []*socketio.Packet
}

func (l *nopLocal) Name() string { return "/" }
func (l *nopLocal) Deliver(pkt *socketio.Packet, _ Flags, to iter.Seq[Socket]) {
	l.last = append(l.last, pkt)
}

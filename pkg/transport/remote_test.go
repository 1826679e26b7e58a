package transport

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestSessionIDPrefix(t *testing.T) {
	ts := newTestServer(t, Config{SessionIDPrefix: "n0de_1."})
	p := ts.pollHandshake(t)
	if !strings.HasPrefix(p.sid, "n0de_1.") || len(p.sid) != len("n0de_1.")+20 {
		t.Fatalf("sid %q", p.sid)
	}
	if c := ts.rec.waitOpen(t); c.ID() != p.sid {
		t.Fatalf("conn id %q, open sid %q", c.ID(), p.sid)
	}
	if status, body := p.post("4x"); status != http.StatusOK || body != "ok" {
		t.Fatalf("POST: %d %q", status, body)
	}
}

func TestSessionIDPrefixValidated(t *testing.T) {
	for _, prefix := range []string{"a b", "a&b", "é", "a=", strings.Repeat("a", 65)} {
		if _, err := NewServer(Config{Handler: newRecorder(false), SessionIDPrefix: prefix}); err == nil {
			t.Errorf("prefix %q accepted", prefix)
		}
	}
}

func TestRemoteServesUnknownSessions(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	ts := newTestServer(t, Config{Remote: func(w http.ResponseWriter, r *http.Request, sid string) bool {
		mu.Lock()
		asked = append(asked, sid)
		mu.Unlock()
		switch sid {
		case "elsewhere":
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("served"))
			return true
		case "gone":
			RefuseUnknownSession(w)
			return true
		}
		return false
	}})
	p := ts.pollHandshake(t)
	ts.rec.waitOpen(t)

	tests := []struct {
		name, method, query string
		status              int
		body                string
	}{
		{"served elsewhere", http.MethodGet, "transport=polling&sid=elsewhere", http.StatusTeapot, "served"},
		{"served elsewhere, POST", http.MethodPost, "transport=polling&sid=elsewhere", http.StatusTeapot, "served"},
		{"declined", http.MethodGet, "transport=polling&sid=nobody", http.StatusBadRequest, `{"code":1,"message":"Session ID unknown"}`},
		{"gone", http.MethodGet, "transport=polling&sid=gone", http.StatusBadRequest, `{"code":1,"message":"Session ID unknown"}`},
		{"local session", http.MethodPost, "transport=polling&sid=" + p.sid, http.StatusOK, "ok"},
		{"unknown transport first", http.MethodGet, "transport=carrier-pigeon&sid=elsewhere", http.StatusBadRequest, `{"code":0,"message":"Transport unknown"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := httpDo(t, tt.method, ts.url+"?EIO=4&"+tt.query, "4x")
			if status != tt.status || body != tt.body {
				t.Fatalf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"elsewhere", "elsewhere", "nobody", "gone"}; strings.Join(asked, ",") != strings.Join(want, ",") {
		t.Fatalf("Remote asked for %v, want %v", asked, want)
	}
}

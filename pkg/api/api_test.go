package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/pkg/api"
	"github.com/sockgate/sockgate/pkg/session"
)

func TestStatuses(t *testing.T) {
	srv, err := session.NewServer(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	h, err := api.New(api.Config{Server: srv, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"event":"x","args":["` + strings.Repeat("a", api.MaxBodyBytes) + `"]}`
	tests := []struct {
		name, method, path, auth, body string
		want                           int
		answer                         string // prefix
	}{
		{"emit", "POST", "/api/v1/emit", "Bearer tok", `{"event":"x","args":[1,{"a":null}]}`, 200, `{"ok":true}`},
		{"emit with acks, nobody there", "POST", "/api/v1/emit", "Bearer tok", `{"event":"x","timeout_ms":50}`, 200, `{"acks":[],"timed_out":false}`},
		{"lowercase scheme", "POST", "/api/v1/emit", "bearer tok", `{"event":"x"}`, 200, `{"ok":true}`},
		{"sockets", "GET", "/api/v1/sockets?room=a", "Bearer tok", "", 200, `{"sockets":[],"missing_nodes":0}`},
		{"rooms", "GET", "/api/v1/rooms", "Bearer tok", "", 200, `{"rooms":[],"missing_nodes":0}`},
		{"join", "POST", "/api/v1/join", "Bearer tok", `{"rooms":["a"],"join":["b"]}`, 200, `{"ok":true}`},
		{"leave", "POST", "/api/v1/leave", "Bearer tok", `{"leave":["b"]}`, 200, `{"ok":true}`},
		{"disconnect", "POST", "/api/v1/disconnect", "Bearer tok", `{"close":true}`, 200, `{"ok":true}`},
		{"no token", "POST", "/api/v1/emit", "", `{"event":"x"}`, 401, `{"error":`},
		{"wrong token", "POST", "/api/v1/emit", "Bearer tok2", `{"event":"x"}`, 401, `{"error":`},
		{"basic auth", "POST", "/api/v1/emit", "Basic tok", `{"event":"x"}`, 401, `{"error":`},
		{"empty body", "POST", "/api/v1/emit", "Bearer tok", ``, 400, `{"error":"empty body`},
		{"malformed", "POST", "/api/v1/emit", "Bearer tok", `{"event":`, 400, `{"error":"bad JSON`},
		{"unknown field", "POST", "/api/v1/emit", "Bearer tok", `{"event":"x","foo":1}`, 400, `{"error":"bad JSON: json: unknown field`},
		{"trailing data", "POST", "/api/v1/emit", "Bearer tok", `{"event":"x"} []`, 400, `{"error":"bad JSON: data after`},
		{"wrong type", "POST", "/api/v1/join", "Bearer tok", `{"join":"b"}`, 400, `{"error":`},
		{"bad namespace", "POST", "/api/v1/emit", "Bearer tok", `{"namespace":"x","event":"x"}`, 400, `{"error":`},
		{"unknown namespace", "POST", "/api/v1/emit", "Bearer tok", `{"namespace":"/nope","event":"x"}`, 404, `{"error":"unknown namespace /nope"}`},
		{"too large", "POST", "/api/v1/emit", "Bearer tok", big, 413, `{"error":`},
		{"wrong method", "DELETE", "/api/v1/join", "Bearer tok", ``, 405, `{"error":`},
		{"unknown path", "GET", "/api/v2/emit", "Bearer tok", ``, 404, `{"error":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want || !strings.HasPrefix(w.Body.String(), tt.answer) {
				t.Errorf("%d %s, want %d %s…", w.Code, w.Body, tt.want, tt.answer)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.want == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Error("no Allow header")
			}
		})
	}
	if st := h.Stats(); st.Requests != uint64(len(tests)) || st.Refused != 13 {
		t.Errorf("Stats %+v", st)
	}
}

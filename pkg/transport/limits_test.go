package transport

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// handshakeWith sends a polling handshake with the given Origin ("" for none).
func handshakeWith(t *testing.T, ts *testServer, origin, query string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.url+"?EIO=4&transport=polling"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		// Close the session at once, as a leaving client does.
		sid := strings.SplitN(strings.SplitN(string(b), `"sid":"`, 2)[1], `"`, 2)[0]
		httpDo(t, http.MethodPost, ts.url+"?EIO=4&transport=polling&sid="+sid, "1")
	}
	return resp.StatusCode, string(b)
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		origin string
		want   int
	}{
		{"no list: any origin", Config{}, "https://evil.example", 200},
		{"CORS list, allowed", Config{CORS: CORS{Origins: []string{"https://good.example"}}}, "https://good.example", 200},
		{"CORS list, case-insensitive", Config{CORS: CORS{Origins: []string{"https://good.example"}}}, "https://GOOD.example", 200},
		{"CORS list, other origin", Config{CORS: CORS{Origins: []string{"https://good.example"}}}, "https://evil.example", 403},
		{"CORS list, no Origin header", Config{CORS: CORS{Origins: []string{"https://good.example"}}}, "", 200},
		{"CORS *: any", Config{CORS: CORS{Origins: []string{"*"}}}, "https://evil.example", 200},
		{"own list wins over CORS", Config{CORS: CORS{Origins: []string{"*"}}, AllowedOrigins: []string{"https://good.example"}}, "https://evil.example", 403},
		{"own list *", Config{AllowedOrigins: []string{"*"}}, "https://evil.example", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.cfg)
			status, body := handshakeWith(t, ts, tt.origin, "")
			if status != tt.want {
				t.Fatalf("status %d (%q), want %d", status, body, tt.want)
			}
			if status == 403 {
				if body != `{"code":4,"message":"Origin not allowed"}` {
					t.Errorf("body %q", body)
				}
				if st := ts.Stats().Errors; st.Origin != 1 || st.Forbidden != 1 {
					t.Errorf("Origin = %d, Forbidden = %d", st.Origin, st.Forbidden)
				}
			}
		})
	}
}

func TestConnectionLimit(t *testing.T) {
	ts := newTestServer(t, Config{MaxConnections: 20})
	// Concurrent handshakes never get past the limit.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	var clients []*pollingClient
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := httpDo(t, http.MethodGet, ts.url+"?EIO=4&transport=polling", "")
			mu.Lock()
			defer mu.Unlock()
			codes[status]++
			if status == http.StatusOK {
				sid := strings.SplitN(strings.SplitN(body, `"sid":"`, 2)[1], `"`, 2)[0]
				clients = append(clients, &pollingClient{t: t, base: ts.url + "?EIO=4&transport=polling&sid=" + sid, sid: sid})
			} else if body != `{"message":"Too many connections"}` {
				t.Errorf("refusal %d %q", status, body)
			}
		}()
	}
	wg.Wait()
	if codes[200] != 20 || codes[503] != 10 {
		t.Fatalf("statuses %v, want 20 × 200 and 10 × 503", codes)
	}
	if got := ts.Stats().Errors.ConnectionLimit; got != 10 {
		t.Errorf("ConnectionLimit = %d", got)
	}
	if !ts.AtConnectionLimit() {
		t.Fatal("not at the connection limit with 20 of 20")
	}
	// Back below 95 % (19 of 20 is not below): the limit clears.
	for i, want := range []bool{true, false} {
		c := clients[len(clients)-1-i]
		c.post("1")
		checkFor(t, 5e9, "the session to close", func() bool { return ts.Count() == 19-i })
		if got := ts.AtConnectionLimit(); got != want {
			t.Errorf("with %d of 20: AtConnectionLimit = %v, want %v", ts.Count(), got, want)
		}
	}
	for _, c := range clients[:len(clients)-2] {
		c.post("1")
	}
}

func TestHandshakeRate(t *testing.T) {
	ts := newTestServer(t, Config{HandshakeRate: 0.5}) // burst 1, then one per 2 s
	if status, body := handshakeWith(t, ts, "", ""); status != 200 {
		t.Fatalf("first handshake: %d %q", status, body)
	}
	status, body := handshakeWith(t, ts, "", "")
	if status != http.StatusServiceUnavailable || body != `{"message":"Too many handshakes"}` {
		t.Fatalf("second handshake: %d %q", status, body)
	}
	if got := ts.Stats().Errors.HandshakeRate; got != 1 {
		t.Errorf("HandshakeRate = %d", got)
	}
}

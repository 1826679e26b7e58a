package transport

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

func TestChooseEncoding(t *testing.T) {
	tests := []struct {
		accept []string
		want   string
	}{
		{nil, ""},
		{[]string{"gzip, deflate, br"}, "gzip"},
		{[]string{"deflate"}, "deflate"},
		{[]string{"br"}, ""},
		{[]string{"gzip;q=0.5, deflate"}, "deflate"},
		{[]string{"gzip;q=0, deflate;q=0"}, ""},
		{[]string{"*"}, "gzip"},
		{[]string{"*;q=0.1, gzip;q=0"}, "deflate"},
		{[]string{"identity"}, ""},
		{[]string{"x-gzip"}, "gzip"},
		{[]string{"GZIP ; Q=0.8", "deflate;q=0.9"}, "deflate"},
		{[]string{"gzip;q=abc"}, ""},
	}
	for _, tt := range tests {
		if got := chooseEncoding(tt.accept); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.accept, got, tt.want)
		}
	}
}

func TestPollingCompression(t *testing.T) {
	big := strings.Repeat("compressible ", 200) // 2.6 KB
	tests := []struct {
		name, accept, data, coding string
		cfg                        Config
	}{
		{"gzip", "gzip, deflate", big, "gzip", Config{}},
		{"deflate", "deflate", big, "deflate", Config{}},
		{"not accepted", "br", big, "", Config{}},
		{"no header", "", big, "", Config{}},
		{"under 1 KiB", "gzip", strings.Repeat("x", 1000), "", Config{}},
		{"disabled", "gzip", big, "", Config{DisableCompression: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.cfg)
			p := ts.pollHandshake(t)
			c := ts.rec.waitOpen(t)
			_ = c.Send([]engineio.Frame{engineio.TextFrame(engineio.PacketMessage, []byte(tt.data))}, false)
			req, _ := http.NewRequest(http.MethodGet, p.base, nil)
			// Set even when empty: net/http then does not ask for gzip itself.
			req.Header.Set("Accept-Encoding", tt.accept)
			if tt.accept == "" {
				req.Header.Set("Accept-Encoding", "identity")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("Content-Encoding"); got != tt.coding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.coding)
			}
			var r io.Reader = bytes.NewReader(raw)
			switch tt.coding {
			case "gzip":
				r, err = gzip.NewReader(r)
			case "deflate":
				r, err = zlib.NewReader(r)
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r)
			if err != nil || string(body) != "4"+tt.data {
				t.Fatalf("body %d bytes (%v), want %d", len(body), err, 1+len(tt.data))
			}
			if tt.coding != "" && len(raw) >= len(body) {
				t.Fatalf("compressed %d bytes into %d", len(body), len(raw))
			}
		})
	}
}

// BenchmarkCompressBody is the cost of compressing one 4 KiB polling
// response of chat-like JSON (pooled compressors).
func BenchmarkCompressBody(b *testing.B) {
	s := &Server{}
	body := []byte(strings.Repeat(`42["message",{"user":"alice","text":"hello there, how is it going?"}]`+"\x1e", 56))
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	for _, coding := range []string{"gzip", "deflate"} {
		b.Run(coding, func(b *testing.B) {
			r.Header.Set("Accept-Encoding", coding)
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var got string
				out, got = s.compressBody(dst, body, r)
				if got != coding || len(out) >= len(body) {
					b.Fatalf("%q: %d bytes", got, len(out))
				}
			}
			b.ReportMetric(float64(len(out))/float64(len(body)), "ratio")
		})
	}
}

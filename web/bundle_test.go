package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	fsys := fstest.MapFS{"VERSION": {Data: []byte("4.8.4\n")}}
	for _, name := range bundleFiles {
		// Repetitive content so that gzip pays off.
		fsys[name] = &fstest.MapFile{Data: []byte(strings.Repeat("/* "+name+" */\n", 200))}
	}
	return fsys
}

func do(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBundleOwns(t *testing.T) {
	b := newBundle(testFS(), "/socket.io/")
	tests := []struct {
		path string
		want bool
	}{
		{"/socket.io/socket.io.js", true},
		{"/socket.io/socket.io.min.js", true},
		{"/socket.io/socket.io.js.map", true},
		{"/socket.io/socket.io.min.js.map", true},
		{"/socket.io/", false},
		{"/socket.io/socket.io.msgpack.min.js", false},
		{"/socket.io/socket.io.jsx", false},
		{"/socket.io.js", false},
		{"/other/socket.io.js", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := b.Owns(tt.path); got != tt.want {
				t.Errorf("Owns(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestBundleServe(t *testing.T) {
	fsys := testFS()
	b := newBundle(fsys, "/socket.io/")
	if !b.Available() || b.Version() != "4.8.4" {
		t.Fatalf("Available=%v Version=%q", b.Available(), b.Version())
	}
	tests := []struct {
		path, contentType string
	}{
		{"/socket.io/socket.io.js", "text/javascript; charset=utf-8"},
		{"/socket.io/socket.io.min.js", "text/javascript; charset=utf-8"},
		{"/socket.io/socket.io.js.map", "application/json; charset=utf-8"},
		{"/socket.io/socket.io.min.js.map", "application/json; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			want := string(fsys[strings.TrimPrefix(tt.path, "/socket.io/")].Data)
			resp := do(t, b, "GET", tt.path, nil)
			if resp.StatusCode != 200 || body(t, resp) != want {
				t.Fatalf("GET: status %d or wrong body", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if resp.Header.Get("Cache-Control") == "" {
				t.Error("no Cache-Control")
			}
			etag := resp.Header.Get("ETag")
			if len(etag) < 10 || etag[0] != '"' || etag[len(etag)-1] != '"' {
				t.Fatalf("ETag = %q, want a strong quoted tag", etag)
			}

			for _, inm := range []string{etag, "W/" + etag, `"x", ` + etag, "*"} {
				resp = do(t, b, "GET", tt.path, http.Header{"If-None-Match": {inm}})
				if resp.StatusCode != http.StatusNotModified || body(t, resp) != "" {
					t.Errorf("If-None-Match %s: status %d, want 304 and no body", inm, resp.StatusCode)
				}
			}
			resp = do(t, b, "GET", tt.path, http.Header{"If-None-Match": {`"stale"`}})
			if resp.StatusCode != 200 {
				t.Errorf("stale If-None-Match: status %d, want 200", resp.StatusCode)
			}

			resp = do(t, b, "HEAD", tt.path, nil)
			if resp.StatusCode != 200 || body(t, resp) != "" || resp.Header.Get("Content-Length") != itoa(len(want)) {
				t.Errorf("HEAD: status %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
			}

			resp = do(t, b, "GET", tt.path, http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}})
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
			}
			gzEtag := resp.Header.Get("ETag")
			if gzEtag == etag {
				t.Error("gzip variant has the identity ETag")
			}
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if !bytes.Equal(plain, []byte(want)) {
				t.Error("gzip body does not decompress to the file")
			}
			resp = do(t, b, "GET", tt.path, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {gzEtag}})
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("gzip If-None-Match: status %d, want 304", resp.StatusCode)
			}
			resp = do(t, b, "GET", tt.path, http.Header{"Accept-Encoding": {"gzip;q=0"}})
			if resp.Header.Get("Content-Encoding") != "" {
				t.Error("gzip;q=0 got gzip")
			}

			resp = do(t, b, "POST", tt.path, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST: status %d, want 405", resp.StatusCode)
			}
		})
	}
}

func TestBundleMissing(t *testing.T) {
	b := newBundle(fstest.MapFS{"README.md": {Data: []byte("placeholder")}}, "/socket.io/")
	if b.Available() || b.Version() != "" {
		t.Fatalf("Available=%v Version=%q, want a missing bundle", b.Available(), b.Version())
	}
	for _, name := range bundleFiles {
		resp := do(t, b, "GET", "/socket.io/"+name, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body(t, resp), "go generate ./web") {
			t.Errorf("%s: status %d, want 503 naming `go generate ./web`", name, resp.StatusCode)
		}
	}
}

func TestBundleWrap(t *testing.T) {
	b := newBundle(testFS(), "/socket.io/")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "engine.io") })
	h := b.Wrap(next)
	if got := body(t, do(t, h, "GET", "/socket.io/?EIO=4&transport=polling", nil)); got != "engine.io" {
		t.Errorf("Engine.IO request reached %q", got)
	}
	if got := body(t, do(t, h, "GET", "/socket.io/socket.io.js", nil)); got == "engine.io" {
		t.Error("bundle request reached the Engine.IO handler")
	}
}

// TestEmbeddedBundle checks the bundle embedded in this build, when it was
// generated (make test always generates it first).
func TestEmbeddedBundle(t *testing.T) {
	b := NewBundle("/socket.io/")
	if !b.Available() {
		t.Skip("bundle not generated: run go generate ./web")
	}
	resp := do(t, b, "GET", "/socket.io/socket.io.min.js", nil)
	if got := body(t, resp); resp.StatusCode != 200 || !strings.Contains(got, "Socket.IO v"+b.Version()) {
		t.Errorf("embedded socket.io.min.js: status %d, no version banner %q", resp.StatusCode, b.Version())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The committed bundle is embedded and is the version package-lock.json pins
// (scripts/test.sh compares the bytes with node_modules besides).
func TestEmbeddedBundleMatchesLock(t *testing.T) {
	b := NewBundle("/socket.io/")
	if !b.Available() {
		t.Fatal("web/dist has no bundle: run `npm ci && go generate ./web` and commit web/dist")
	}
	data, err := os.ReadFile("../package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	want := lock.Packages["node_modules/socket.io-client"].Version
	if want == "" || b.Version() != want {
		t.Fatalf("embedded bundle is socket.io-client %q, package-lock.json pins %q: run `npm ci && go generate ./web`", b.Version(), want)
	}
}

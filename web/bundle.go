package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

//go:embed dist
var distFS embed.FS

// BundleFiles are the names of the bundle files, served below the Socket.IO
// path (as Node's socket.io serves them).
var bundleFiles = [...]string{"socket.io.js", "socket.io.js.map", "socket.io.min.js", "socket.io.min.js.map"}

// missingMessage is the 503 body when web/dist lacks the bundle (a tree whose
// committed bundle files were deleted).
const missingMessage = "socket.io client bundle not built into this binary.\n" +
	"Restore web/dist (or run `npm ci && go generate ./web`) and rebuild; see README.md.\n"

// cacheControl lets browsers and proxies keep the bundle but revalidate it
// (cheaply, with If-None-Match) so an upgraded gateway is picked up at once.
const cacheControl = "public, max-age=0, must-revalidate"

// Bundle serves the socket.io-client browser bundle below a prefix such as
// "/socket.io/": prefix+"socket.io.js", ".min.js" and their ".map" files. It
// is the counterpart of Node's serveClient option: wrap the Socket.IO handler
// with Wrap so that pages can load the client from the server they talk to.
type Bundle struct {
	prefix  string
	version string
	files   map[string]*asset // by file name; nil when the bundle is missing
}

type asset struct {
	contentType string
	data        []byte
	etag        string // strong, quoted: a hash of data

	gzipOnce sync.Once
	gzipData []byte // nil when gzip does not pay off
}

// NewBundle returns the embedded bundle served below prefix, which must start
// and end with a slash: the path the Socket.IO handler is mounted at.
func NewBundle(prefix string) *Bundle {
	sub, err := fs.Sub(distFS, "dist")
	if err != nil {
		panic(err) // cannot happen: "dist" is a valid path
	}
	return newBundle(sub, prefix)
}

func newBundle(fsys fs.FS, prefix string) *Bundle {
	b := &Bundle{prefix: prefix}
	files := make(map[string]*asset, len(bundleFiles))
	for _, name := range bundleFiles {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return b // incomplete: serve 503 for all of it
		}
		sum := sha256.Sum256(data)
		files[name] = &asset{
			contentType: contentType(name),
			data:        data,
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		}
	}
	b.files = files
	if v, err := fs.ReadFile(fsys, "VERSION"); err == nil {
		b.version = strings.TrimSpace(string(v))
	}
	return b
}

func contentType(name string) string {
	if strings.HasSuffix(name, ".map") {
		return "application/json; charset=utf-8"
	}
	return "text/javascript; charset=utf-8"
}

// Available reports whether the bundle was generated before the build.
func (b *Bundle) Available() bool { return b.files != nil }

// Version is the socket.io-client version of the bundle ("" when missing).
func (b *Bundle) Version() string { return b.version }

// Owns reports whether urlPath is one of the bundle's paths. Every other path
// below the prefix (Engine.IO traffic) belongs to someone else.
func (b *Bundle) Owns(urlPath string) bool {
	name, ok := strings.CutPrefix(urlPath, b.prefix)
	return ok && isBundleFile(name)
}

func isBundleFile(name string) bool {
	for _, f := range bundleFiles {
		if name == f {
			return true
		}
	}
	return false
}

// Wrap returns a handler that serves the bundle's paths and passes every other
// request to next.
func (b *Bundle) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.Owns(r.URL.Path) {
			b.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves one bundle file, with an ETag, Cache-Control, 304 on a
// matching If-None-Match and gzip when the client accepts it.
func (b *Bundle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, b.prefix)
	if !ok || !isBundleFile(name) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if b.files == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, missingMessage, http.StatusServiceUnavailable)
		return
	}
	a := b.files[name]
	body, etag := a.data, a.etag
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		if gz := a.gzipped(); gz != nil {
			body = gz
			etag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatch(r.Header.Values("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// gzipped compresses the asset once, on first use.
func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.data)
		zw.Close()
		if buf.Len() < len(a.data) {
			a.gzipData = buf.Bytes()
		}
	})
	return a.gzipData
}

// acceptsGzip reports whether Accept-Encoding (RFC 9110 section 12.5.3) lists
// gzip, or *, without q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok && isZeroQ(q) {
				continue
			}
			return true
		}
	}
	return false
}

func isZeroQ(q string) bool {
	return strings.Trim(q, "0.") == "" // "0", "0.0", "0.000"
}

// etagMatch implements If-None-Match's weak comparison (RFC 9110 section
// 13.1.2): "*" or any listed tag equal to etag, ignoring W/ prefixes.
func etagMatch(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

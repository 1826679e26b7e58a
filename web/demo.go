package web

import (
	"bytes"
	"embed"
	"html"
	"io/fs"
	"net/http"
	"time"
)

//go:embed static
var staticFS embed.FS

// demoCSP allows only this origin's scripts, styles and connections: the demo
// renders messages as text, and the policy is a second line of defence.
const demoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// defaultPath is where the demo page looks for Socket.IO and its bundle.
const defaultPath = "/socket.io/"

// Demo returns the handler of the chat room demo, to be mounted at "/". It
// serves index.html at "/" and its assets; every other path is 404. The page
// expects Socket.IO at /socket.io/.
func Demo() http.Handler { return DemoFor(defaultPath) }

// DemoFor is Demo for a gateway serving Socket.IO (and the client bundle)
// at path, which starts and ends with a slash: the page loads the bundle
// from path and connects there.
func DemoFor(path string) http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // cannot happen: "static" is a valid path
	}
	files := http.FileServerFS(sub)
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err) // cannot happen: index.html is embedded
	}
	// The page names the bundle's URL; app.js takes the path from there.
	index = bytes.ReplaceAll(index, []byte(`src="`+defaultPath+`socket.io.js"`),
		[]byte(`src="`+html.EscapeString(path)+`socket.io.js"`))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html", "/app.js", "/style.css":
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", demoCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
			return
		}
		files.ServeHTTP(w, r)
	})
}

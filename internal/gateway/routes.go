package gateway

import (
	"net/http"

	"github.com/sockgate/sockgate/internal/metrics"
	"github.com/sockgate/sockgate/web"
)

func (g *Gateway) routes() http.Handler {
	mux := http.NewServeMux()
	// Only the bundle's exact file paths are served from the embedded
	// bundle; everything else below the path is Engine.IO traffic.
	var engine http.Handler = g.io
	if g.fwd != nil {
		engine = g.fwd.Handler(engine) // authenticates requests other nodes forward
	}
	mux.Handle(g.cfg.Path, g.bundle.Wrap(engine))
	mux.Handle("/metrics", metrics.Handler(g.reg))
	mux.Handle("/api/", g.apiHandler())
	mux.HandleFunc("/healthz", g.healthz)
	mux.HandleFunc("/readyz", g.readyz)
	mux.Handle("/", web.DemoFor(g.cfg.Path))
	return mux
}

// healthz is the liveness probe: the process serves HTTP.
func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	probe(w, r, http.StatusOK, "ok")
}

// methodOK answers 405 to anything but GET and HEAD and reports whether
// the method is one of them.
func methodOK(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

func probe(w http.ResponseWriter, r *http.Request, code int, text string) {
	if !methodOK(w, r) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		w.Write([]byte(text + "\n"))
	}
}

package transport

import (
	"net/http"
	"slices"
)

// applyCORS sets the CORS headers of Config.CORS, in the manner of the cors
// middleware the reference server uses. It answers a preflight OPTIONS
// request itself (204) and then returns true.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	cfg := s.cfg.CORS
	if len(cfg.Origins) == 0 {
		return false
	}
	h := w.Header()
	origin := r.Header.Get("Origin")
	switch {
	case slices.Contains(cfg.Origins, "*") && !(cfg.Credentials && origin != ""):
		h.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && (slices.Contains(cfg.Origins, "*") || slices.Contains(cfg.Origins, origin)):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		h.Add("Vary", "Origin")
	}
	if cfg.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		h.Set("Access-Control-Allow-Headers", reqHeaders)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}

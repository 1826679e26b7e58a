// Package api is the HTTP server API of a Socket.IO server: an
// http.Handler that lets an application backend emit events (with acks
// and binary attachments), list sockets and rooms, and make sockets join,
// leave or disconnect, on every node of the cluster through the adapter, as
// the socket.io server API does (io.to(room).emit, fetchSockets,
// socketsJoin, socketsLeave, disconnectSockets).
//
// Entry point: New(Config) returns a *Handler to mount at /api/. Every
// request needs "Authorization: Bearer <token>" (401 otherwise); bodies
// are JSON objects of at most 1 MiB (413) without unknown fields (400);
// a wrong method is 405. Errors are JSON {"error": "..."}. The README
// section "Server API" documents each endpoint. A Handler may serve
// requests concurrently.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/session"
)

// Config configures a Handler.
type Config struct {
	// Server is the Socket.IO server the API acts on. Required.
	Server *session.Server
	// Token is the bearer token every request must carry. Required.
	Token string
	// Namespace resolves the namespace a request names. Default: the
	// namespaces that exist (Server.LookupNamespace); others are 404. A
	// server with dynamic namespaces passes Server.DynamicNamespace, so
	// that an emit reaches a namespace whose sockets are all on other nodes.
	Namespace func(name string) (*session.Namespace, error)
	// Timeout bounds the cluster requests (sockets, rooms) and the
	// requests that change sockets. Default 5s.
	Timeout time.Duration
	// MaxAckTimeout bounds an emit's timeout_ms. Default 5 minutes.
	MaxAckTimeout time.Duration
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults and limits.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxAckTimeout = 5 * time.Minute
	MaxBodyBytes         = 1 << 20
)

// Handler serves the API.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	token [32]byte // SHA-256 of Config.Token: compared in constant time
	mux   *http.ServeMux

	requests, refused, failed atomic.Uint64
}

// Stats is a snapshot of a Handler's counters.
type Stats struct {
	Requests uint64 // requests served
	Refused  uint64 // of which refused: 4xx (bad token, bad input, unknown path or namespace)
	Failed   uint64 // of which failed: 5xx (the adapter could not do it)
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Server == nil {
		return nil, errors.New("api: a server is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("api: a token is required")
	}
	if cfg.Namespace == nil {
		srv := cfg.Server
		cfg.Namespace = func(name string) (*session.Namespace, error) {
			if n := srv.LookupNamespace(name); n != nil {
				return n, nil
			}
			return nil, ErrUnknownNamespace
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAckTimeout <= 0 {
		cfg.MaxAckTimeout = DefaultMaxAckTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, token: sha256.Sum256([]byte(cfg.Token)), mux: http.NewServeMux()}
	h.route("/api/v1/emit", http.MethodPost, h.emit)
	h.route("/api/v1/sockets", http.MethodGet, h.sockets)
	h.route("/api/v1/join", http.MethodPost, h.join)
	h.route("/api/v1/leave", http.MethodPost, h.leave)
	h.route("/api/v1/disconnect", http.MethodPost, h.disconnect)
	h.route("/api/v1/rooms", http.MethodGet, h.rooms)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, &httpError{http.StatusNotFound, "no such endpoint: " + r.URL.Path})
	})
	return h, nil
}

// Stats returns a snapshot of the handler's counters.
func (h *Handler) Stats() Stats {
	return Stats{Requests: h.requests.Load(), Refused: h.refused.Load(), Failed: h.failed.Load()}
}

// ServeHTTP checks the token, then serves the endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sockgate"`)
		h.fail(w, &httpError{http.StatusUnauthorized, "missing or wrong bearer token"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	// Hashing first makes the comparison constant-time in the length too.
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], h.token[:]) == 1
}

// route serves path for one method; any other is 405.
func (h *Handler) route(path, method string, f func(*http.Request) (any, error)) {
	h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			h.fail(w, &httpError{http.StatusMethodNotAllowed, fmt.Sprintf("%s wants %s", path, method)})
			return
		}
		out, err := f(r)
		if err != nil {
			h.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// httpError is an error with its status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// ErrUnknownNamespace is what a Config.Namespace returns for a namespace
// that does not exist: the request is a 404.
var ErrUnknownNamespace = errors.New("api: unknown namespace")

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{http.StatusServiceUnavailable, err.Error()}
		h.log.Warn("api: request failed", "err", err)
	}
	if he.code >= 500 {
		h.failed.Add(1)
	} else {
		h.refused.Add(1)
	}
	writeJSON(w, he.code, struct {
		Error string `json:"error"`
	}{he.msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decode reads the JSON body of r into v: at most MaxBodyBytes, one object,
// no unknown fields.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes)}
		case errors.Is(err, io.EOF):
			return badRequest("empty body: a JSON object is required")
		}
		return badRequest("bad JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes)}
		}
		return badRequest("bad JSON: data after the object")
	}
	return nil
}

// Selector picks sockets, as socket.io's operators do: the members of
// Rooms (every socket of the namespace when empty; socket IDs are rooms
// too) but those of Except.
type Selector struct {
	Namespace string   `json:"namespace"` // default "/"
	Rooms     []string `json:"rooms"`
	Except    []string `json:"except"`
}

func (h *Handler) operator(sel Selector) (session.BroadcastOperator, error) {
	var op session.BroadcastOperator
	if err := checkRooms("rooms", sel.Rooms); err != nil {
		return op, err
	}
	if err := checkRooms("except", sel.Except); err != nil {
		return op, err
	}
	n, err := h.namespace(sel.Namespace)
	if err != nil {
		return op, err
	}
	return n.To(sel.Rooms...).Except(sel.Except...), nil
}

func (h *Handler) namespace(name string) (*session.Namespace, error) {
	if name == "" {
		name = "/"
	}
	if name[0] != '/' {
		return nil, badRequest("namespace %q must start with /", name)
	}
	n, err := h.cfg.Namespace(name)
	switch {
	case errors.Is(err, ErrUnknownNamespace):
		return nil, &httpError{http.StatusNotFound, "unknown namespace " + name}
	case err != nil:
		return nil, fmt.Errorf("namespace %s: %w", name, err)
	}
	return n, nil
}

func checkRooms(field string, rooms []string) error {
	if slices.Contains(rooms, "") {
		return badRequest("%s: a room name is empty", field)
	}
	return nil
}

func (h *Handler) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.cfg.Timeout)
}

// missingNodes is how many nodes did not answer a cluster request in time.
func missingNodes(err error) (int, error) {
	var te *adapter.TimeoutError
	if errors.As(err, &te) {
		return te.Expected - te.Received, nil
	}
	return 0, err
}

package forward

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/sockgate/sockgate/pkg/transport"
)

// Remote forwards r, a request for session sid that the local transport
// does not have, to the node owning it; it is transport.Config.Remote. It
// returns false, for the transport to refuse r as an unknown session, when
// sid names no registered node, names this one, or r was itself forwarded.
func (n *Node) Remote(w http.ResponseWriter, r *http.Request, sid string) bool {
	if isForwarded(r.Context()) {
		return false
	}
	id, ok := ownerOf(sid)
	if !ok || id == n.id {
		return false
	}
	kind := kindOf(r)
	start := time.Now()
	addr, err := n.lookup(r.Context(), id)
	if err != nil {
		n.stats.count(kind, ResultRegistryError)
		n.rejectLg.warn("forward: registry lookup failed", "node", id, "err", err)
		return false
	}
	if addr == "" {
		n.stats.count(kind, ResultUnknownNode)
		return false
	}
	var body []byte
	if r.Method == http.MethodPost {
		// The signature covers the body, so it is read first; one byte over
		// the limit is enough for the owner to refuse it as too large.
		body, err = io.ReadAll(io.LimitReader(r.Body, int64(n.cfg.MaxBodyBytes)+1))
		if err != nil {
			n.stats.count(kind, ResultCanceled)
			return true // the client's connection failed: nobody to answer
		}
	}
	if !n.begin() {
		return false
	}
	defer n.inflight.Done()
	stop := n.allCtx
	if kind == KindWebSocket {
		stop = n.wsCtx
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer context.AfterFunc(stop, cancel)()
	defer cancel()

	answered := false
	rp := &httputil.ReverseProxy{
		Transport: n.transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = addr
			// Rewrite drops the Forwarded and X-Forwarded-* headers; the owner sees those
			// the load balancer set, as a client of its own would.
			for _, h := range [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
			if body != nil {
				pr.Out.Body = io.NopCloser(bytes.NewReader(body))
				pr.Out.ContentLength = int64(len(body))
			}
			n.sign(pr.Out.Header, pr.Out.Method, pr.Out.URL.RequestURI(), pr.Out.Host, pr.In.RemoteAddr, time.Now(), body)
		},
		ModifyResponse: func(res *http.Response) error {
			answered = true
			n.stats.observe(kind, time.Since(start))
			if res.StatusCode == http.StatusForbidden && res.Header.Get(headerRefused) != "" {
				n.stats.count(kind, ResultRefused)
				n.rejectLg.warn("forward: the owner refused a forwarded request; does every node have the same cluster secret, and are the clocks in sync?", "node", id, "addr", addr)
			} else {
				n.stats.count(kind, ResultOK)
			}
			// The CORS headers are the local node's, set before Remote ran
			// (every node has the same CORS settings); the owner's would
			// repeat them.
			for name := range res.Header {
				if strings.HasPrefix(name, "Access-Control-") || name == "Vary" {
					delete(res.Header, name)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case answered:
				// The owner answered, then the relay failed (a websocket or
				// a body cut short): the response has begun.
			case r.Context().Err() != nil && stop.Err() == nil:
				n.stats.count(kind, ResultCanceled) // the client left
			default:
				// The owner is gone (or this node is closing): the client
				// learns its session is, and reconnects.
				n.stats.count(kind, ResultUnreachable)
				var op *net.OpError
				if errors.As(err, &op) && op.Op == "dial" {
					n.forget(id)
				}
				n.rejectLg.warn("forward: owner unreachable", "node", id, "addr", addr, "err", err)
				transport.RefuseUnknownSession(w)
			}
		},
		ErrorLog: n.errLog,
	}
	rp.ServeHTTP(w, r.WithContext(ctx))
	return true
}

// Kind is the kind of a forwarded request.
type Kind uint8

const (
	KindPollingGet Kind = iota
	KindPollingPost
	KindWebSocket
	numKinds
)

var kindNames = [numKinds]string{"polling_get", "polling_post", "websocket"}

func (k Kind) String() string { return kindNames[k] }

func kindOf(r *http.Request) Kind {
	switch {
	case r.Method == http.MethodPost:
		return KindPollingPost
	case isUpgrade(r):
		return KindWebSocket
	default:
		return KindPollingGet
	}
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(v), "websocket") {
			return true
		}
	}
	return false
}

// Result is how a forward ended.
type Result uint8

const (
	ResultOK            Result = iota // the owner answered (whatever its status)
	ResultUnknownNode                 // the sid names no registered node: 400 unknown session
	ResultUnreachable                 // the owner did not answer: 400 unknown session
	ResultCanceled                    // the client left before the owner answered
	ResultRegistryError               // Redis failed the lookup: 400 unknown session
	ResultRefused                     // the owner found the request not authentic (403): secrets or clocks differ
	numResults
)

var resultNames = [numResults]string{"ok", "unknown_node", "unreachable", "canceled", "registry_error", "refused"}

func (r Result) String() string { return resultNames[r] }

type forwardedKey struct{}

func isForwarded(ctx context.Context) bool { return ctx.Value(forwardedKey{}) != nil }

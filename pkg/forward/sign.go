package forward

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The headers of a forwarded request. A client's request carrying any of
// them is checked like a forwarded one, and refused unless it is one.
const (
	HeaderTime      = "Sockgate-Forward-Time"      // Unix milliseconds
	HeaderClient    = "Sockgate-Forward-Client"    // the client's address (RemoteAddr at the first node)
	HeaderSignature = "Sockgate-Forward-Signature" // URL-safe base64 HMAC-SHA256
)

// headerRefused marks the 403 of a request refused as not authentic, for
// the forwarding node to tell it from the owner's other answers.
const headerRefused = "Sockgate-Forward-Refused"

const signatureVersion = "sockgate-forward-1\n"

func (n *Node) mac(method, uri, host, ts, client string) hash.Hash {
	m := hmac.New(sha256.New, n.cfg.Secret)
	// Method, URI, host, timestamp and address hold no newline (HTTP does
	// not allow one there), so the text parses one way only; the body comes
	// last, whatever it holds.
	for _, s := range [...]string{signatureVersion, method, "\n", uri, "\n", host, "\n", ts, "\n", client, "\n"} {
		m.Write([]byte(s))
	}
	return m
}

// sign sets the forwarding headers of a request to another node.
func (n *Node) sign(h http.Header, method, uri, host, client string, at time.Time, body []byte) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	m := n.mac(method, uri, host, ts, client)
	m.Write(body)
	h[HeaderTime] = []string{ts}
	h[HeaderClient] = []string{client}
	h[HeaderSignature] = []string{base64.RawURLEncoding.EncodeToString(m.Sum(nil))}
}

// Reject reasons for requests that claim to be forwarded.
type Reject uint8

const (
	RejectMissing   Reject = iota // some forwarding header missing or malformed
	RejectSignature               // wrong signature: another secret, or altered
	RejectExpired                 // timestamp outside MaxClockSkew
	RejectBody                    // body unreadable or over MaxBodyBytes
	numRejects
)

var rejectNames = [numRejects]string{"missing", "bad_signature", "expired", "bad_body"}

func (r Reject) String() string { return rejectNames[r] }

// Handler wraps the Engine.IO handler of this node: requests forwarded by
// another node are authenticated, then served with the client's address as
// RemoteAddr, and never forwarded again; requests claiming to be forwarded
// that are not authentic get 403. Other requests pass through untouched.
func (n *Node) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if h[HeaderTime] == nil && h[HeaderClient] == nil && h[HeaderSignature] == nil {
			next.ServeHTTP(w, r)
			return
		}
		fr, reason, ok := n.verify(r, time.Now())
		if !ok {
			n.stats.rejected[reason].Add(1)
			n.rejectLg.warn("forward: refused a forwarded request that is not authentic", "reason", reason.String(), "remote", r.RemoteAddr, "uri", r.RequestURI)
			w.Header().Set(headerRefused, reason.String())
			http.Error(w, "forward: forwarded request not authenticated", http.StatusForbidden)
			return
		}
		n.stats.accepted.Add(1)
		next.ServeHTTP(w, fr)
	})
}

// verify checks a forwarded request and returns it as the owner serves it.
func (n *Node) verify(r *http.Request, now time.Time) (*http.Request, Reject, bool) {
	h := r.Header
	ts, client, sig := h.Get(HeaderTime), h.Get(HeaderClient), h.Get(HeaderSignature)
	if len(h[HeaderTime]) != 1 || len(h[HeaderClient]) != 1 || len(h[HeaderSignature]) != 1 || client == "" {
		return nil, RejectMissing, false
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	want, derr := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || derr != nil || len(want) != sha256.Size {
		return nil, RejectMissing, false
	}
	if d := now.Sub(time.UnixMilli(ms)); d > n.cfg.MaxClockSkew || d < -n.cfg.MaxClockSkew {
		return nil, RejectExpired, false
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		body, err = io.ReadAll(io.LimitReader(r.Body, int64(n.cfg.MaxBodyBytes)+2))
		if err != nil || len(body) > n.cfg.MaxBodyBytes+1 {
			return nil, RejectBody, false
		}
	}
	m := n.mac(r.Method, r.URL.RequestURI(), r.Host, ts, client)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), want) {
		return nil, RejectSignature, false
	}
	fr := r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true))
	fr.RemoteAddr = client
	fr.Header = h.Clone()
	delete(fr.Header, HeaderTime)
	delete(fr.Header, HeaderClient)
	delete(fr.Header, HeaderSignature)
	if body != nil {
		fr.Body = io.NopCloser(bytes.NewReader(body))
		fr.ContentLength = int64(len(body))
	}
	return fr, 0, true
}

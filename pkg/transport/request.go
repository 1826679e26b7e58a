package transport

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Request is what a connection keeps of its handshake request, for the
// layer above (Socket.IO reports it as the socket's handshake). It lives as
// long as the connection, so it keeps the headers as one string and parses
// them, and the query, only when asked: the maps net/http built for the
// request cost more than the text they hold.
type Request struct {
	RemoteAddr string
	URL        string // the request URI, query included
	Secure     bool   // TLS
	XDomain    bool   // the request carried an Origin header
	Time       time.Time

	header string // "Name: value\n" per value, names canonical and sorted
}

// NewRequest keeps what a connection needs of r, received at t.
func NewRequest(r *http.Request, t time.Time) *Request {
	return &Request{
		RemoteAddr: r.RemoteAddr,
		URL:        r.RequestURI,
		Secure:     r.TLS != nil,
		XDomain:    r.Header.Get("Origin") != "",
		Time:       t,
		header:     packHeader(r.Header),
	}
}

// Header returns a new copy of the request's headers.
func (r *Request) Header() http.Header {
	h := make(http.Header, strings.Count(r.header, "\n"))
	for line := range strings.Lines(r.header) {
		name, value, _ := strings.Cut(line[:len(line)-1], ":")
		h[name] = append(h[name], value)
	}
	return h
}

// Query returns the parsed query of the request URL; malformed pairs are
// skipped, as url.URL.Query does.
func (r *Request) Query() url.Values {
	_, raw, _ := strings.Cut(r.URL, "?")
	q, _ := url.ParseQuery(raw)
	return q
}

// packHeader flattens h into "Name: value\n" lines. net/http accepts no
// colon in a name and no newline in either, so the text parses back
// unambiguously; entries that break this (a hand-made header) are dropped.
func packHeader(h http.Header) string {
	names := make([]string, 0, len(h))
	n := 0
	for name, values := range h {
		if strings.ContainsAny(name, ":\n") {
			continue
		}
		names = append(names, name)
		for _, v := range values {
			n += len(name) + len(v) + 2
		}
	}
	slices.Sort(names)
	var b strings.Builder
	b.Grow(n)
	for _, name := range names {
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		for _, v := range h[name] {
			if strings.Contains(v, "\n") {
				continue
			}
			b.WriteString(canonical)
			b.WriteByte(':')
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

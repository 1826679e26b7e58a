package transport

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// limits holds the admission state of Config.MaxConnections and
// Config.HandshakeRate.
type limits struct {
	handshakes *rate.Limiter // nil: no handshake rate
	admitting  atomic.Int64  // handshakes admitted and not yet open (or failed)
	atLimit    atomic.Bool   // reached MaxConnections, not yet back below 95 %
}

func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, int(math.Ceil(perSecond)))
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

// originAllowed reports whether r's Origin header, if any, is one of
// Config.AllowedOrigins.
func (s *Server) originAllowed(r *http.Request) bool {
	if len(s.cfg.AllowedOrigins) == 0 {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// refuseOrigin answers a handshake or upgrade from an origin that is not
// allowed with HTTP 403 (error code 4) and returns true.
func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request) bool {
	if s.originAllowed(r) {
		return false
	}
	s.stats.origin.Add(1)
	s.refuse(w, codeForbidden, "Origin not allowed")
	return true
}

// admit applies MaxConnections and HandshakeRate to a handshake. When it
// refuses, it has answered HTTP 503 and returns ok false; otherwise the
// caller calls done once the session is open or its handshake failed.
func (s *Server) admit(w http.ResponseWriter) (done func(), ok bool) {
	l := &s.limits
	if maxConns := int64(s.cfg.MaxConnections); maxConns > 0 {
		// Counting this handshake before comparing makes concurrent ones
		// see each other: the limit is never overshot.
		if n := l.admitting.Add(1) + int64(s.Count()); n > maxConns {
			l.admitting.Add(-1)
			l.atLimit.Store(true)
			s.stats.connLimit.Add(1)
			writeUnavailable(w, "Too many connections")
			return nil, false
		}
		done = func() {
			l.admitting.Add(-1)
			if int64(s.Count()) >= maxConns {
				l.atLimit.Store(true)
			}
		}
	} else {
		done = func() {}
	}
	if l.handshakes != nil && !l.handshakes.Allow() {
		done()
		s.stats.handshakeRate.Add(1)
		writeUnavailable(w, "Too many handshakes")
		return nil, false
	}
	return done, true
}

// AtConnectionLimit reports whether the server has reached
// Config.MaxConnections and not yet dropped below 95 % of it since. It is
// false without a limit.
func (s *Server) AtConnectionLimit() bool {
	maxConns := s.cfg.MaxConnections
	if maxConns <= 0 || !s.limits.atLimit.Load() {
		return false
	}
	if float64(s.Count()) < 0.95*float64(maxConns) {
		s.limits.atLimit.Store(false)
		return false
	}
	return true
}

// writeUnavailable refuses a handshake over a limit: HTTP 503 with
// {"message":"..."} and Retry-After: 1.
func writeUnavailable(w http.ResponseWriter, message string) {
	body := appendJSONString([]byte(`{"message":`), message)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(body)
}

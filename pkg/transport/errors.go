package transport

import (
	"errors"
	"net/http"
	"strconv"
)

// Errors returned by Conn.Send and Server.Shutdown.
var (
	ErrClosed       = errors.New("transport: connection closed")
	ErrSlowConsumer = errors.New("transport: write queue full (slow consumer)")
	ErrServerClosed = errors.New("transport: server closed")
)

// Handshake error codes, as the reference server sends them in the JSON body
// of a refused request.
const (
	codeUnknownTransport    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
)

var codeMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

// RefuseUnknownSession answers a request the way a Server answers one for a
// session it does not have: 400 with {"code":1,"message":"Session ID
// unknown"}. It is for Config.Remote, when the session turns out to be gone.
func RefuseUnknownSession(w http.ResponseWriter) {
	writeError(w, codeUnknownSID, 0, "")
}

// StatusError, returned by Config.AllowRequest, refuses a handshake with
// HTTP status Status instead of 403 (e.g. 503 while the server drains or is
// full, so that a load balancer or the client retries elsewhere). The body
// is the usual {"code":4,"message":"..."} with Err's text.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// writeError refuses a request the way the reference server does: HTTP 400
// (403 for Forbidden) with {"code":N,"message":"..."}. A status other than
// 0 replaces the code's own.
func writeError(w http.ResponseWriter, code, status int, message string) {
	if message == "" {
		message = codeMessages[code]
	}
	if status == 0 {
		status = http.StatusBadRequest
		if code == codeForbidden {
			status = http.StatusForbidden
		}
	}
	body := make([]byte, 0, 64)
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(code), 10)
	body = append(body, `,"message":`...)
	body = appendJSONString(body, message)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendJSONString appends s as a JSON string, escaping what JSON requires.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

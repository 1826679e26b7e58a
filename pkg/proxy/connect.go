package proxy

import (
	"encoding/json"
	"strings"

	"github.com/sockgate/sockgate/pkg/session"
)

// forwardedHeaders are the handshake headers a connect request carries.
var forwardedHeaders = []string{
	"Cookie", "Authorization", "User-Agent", "Origin", "Referer", "Accept-Language",
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip",
}

// engineQuery are the query parameters of Engine.IO itself, not forwarded.
var engineQuery = map[string]bool{"EIO": true, "transport": true, "t": true, "sid": true}

type connectRequest struct {
	Namespace string            `json:"namespace"`
	SID       string            `json:"sid"`
	Auth      json.RawMessage   `json:"auth"`
	Headers   map[string]string `json:"headers"`
	Query     map[string]string `json:"query"`
	Address   string            `json:"address"`
	User      string            `json:"user,omitempty"`
	Claims    json.RawMessage   `json:"claims,omitempty"`
}

type connectAnswer struct {
	Accept  bool            `json:"accept"`
	User    string          `json:"user"`
	Rooms   []string        `json:"rooms"`
	Data    json.RawMessage `json:"data"`
	Message string          `json:"message"`
}

// defaultRefusal is the connect_error message of a refusal without one.
const defaultRefusal = "connection refused"

// Connect is a session middleware that asks the connect URL whether the
// socket may connect. The backend's "user" becomes the socket's user (else
// an earlier middleware's, as jwtauth sets it, stays), its "rooms" are
// joined at connect and its "data" becomes the socket's data. A refusal's
// "message" and "data" reach the client's connect_error; a failure refuses
// with "backend unavailable".
func (p *Proxy) Connect(s *session.Socket) error {
	if p.cfg.ConnectURL == "" {
		return nil
	}
	hs := s.Handshake()
	req := connectRequest{
		Namespace: s.Namespace().Name(),
		SID:       s.ID(),
		Auth:      hs.Auth,
		Headers:   map[string]string{},
		Query:     map[string]string{},
		Address:   hs.Address,
		User:      s.User(),
		Claims:    p.claims(s),
	}
	for _, h := range forwardedHeaders {
		if v := hs.Header.Values(h); len(v) > 0 {
			req.Headers[strings.ToLower(h)] = strings.Join(v, ", ")
		}
	}
	for k, v := range hs.Query {
		if !engineQuery[k] && len(v) > 0 {
			req.Query[k] = v[0]
		}
	}
	var ans connectAnswer
	if err := p.call(&p.stats.connect, p.cfg.ConnectURL, req, &ans); err != nil {
		p.warn("proxy: connect backend failed: refusing the connection", "nsp", req.Namespace, "err", err)
		return &session.ConnectError{Message: ErrorMessage}
	}
	if !ans.Accept {
		ce := &session.ConnectError{Message: ans.Message}
		if ce.Message == "" {
			ce.Message = defaultRefusal
		}
		if len(ans.Data) > 0 && string(ans.Data) != "null" {
			ce.Data = ans.Data
		}
		return ce
	}
	if ans.User != "" {
		s.SetUser(ans.User)
	}
	if len(ans.Data) > 0 && string(ans.Data) != "null" {
		s.SetData(ans.Data)
	}
	for _, r := range ans.Rooms {
		if r != "" {
			s.Join(r)
		}
	}
	return nil
}

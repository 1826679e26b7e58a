package proxy

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/sockgate/sockgate/pkg/session"
)

type disconnectRequest struct {
	Namespace string          `json:"namespace"`
	SID       string          `json:"sid"`
	User      string          `json:"user"`
	Reason    string          `json:"reason"`
	Claims    json.RawMessage `json:"claims,omitempty"`
}

// Disconnect is an OnDisconnect hook that tells the disconnect URL about
// the socket. It never blocks: the notification is queued and sent by a
// worker, with up to 3 attempts; when the queue is full it is dropped
// (and counted).
func (p *Proxy) Disconnect(s *session.Socket, reason string) {
	if p.cfg.DisconnectURL == "" {
		return
	}
	req := disconnectRequest{Namespace: s.Namespace().Name(), SID: s.ID(), User: s.User(), Reason: reason, Claims: p.claims(s)}
	p.discMu.RLock()
	defer p.discMu.RUnlock()
	if p.discClosed {
		p.stats.disconnectDropped.Add(1)
		return
	}
	select {
	case p.disc <- req:
	default:
		p.stats.disconnectDropped.Add(1)
		p.warn("proxy: disconnect queue full: dropping a notification", "nsp", req.Namespace)
	}
}

func (p *Proxy) disconnectWorker() {
	for req := range p.disc {
		backoff := 100 * time.Millisecond
		for attempt := 1; ; attempt++ {
			err := p.call(&p.stats.disconnect, p.cfg.DisconnectURL, req, nil)
			var st errStatus
			// A 4xx is the backend's final word; retry what may pass later.
			if err == nil || errors.As(err, &st) && st < 500 || p.base.Err() != nil {
				break
			}
			if attempt == disconnectAttempts {
				p.warn("proxy: disconnect notification failed", "nsp", req.Namespace, "attempts", attempt, "err", err)
				break
			}
			select {
			case <-time.After(backoff):
			case <-p.base.Done():
			}
			backoff *= 2
		}
	}
}

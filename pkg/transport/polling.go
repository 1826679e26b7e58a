package transport

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// servePolling handles a request for an existing polling session.
func (s *Server) servePolling(c *Conn, w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.servePoll(c, w, r)
	case http.MethodPost:
		s.servePost(c, w, r)
	default:
		s.refuse(w, codeBadRequest, "")
	}
}

// servePoll answers a long-polling GET with everything queued, waiting until
// there is something to send. It is the polling transport's writer.
func (s *Server) servePoll(c *Conn, w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.pollActive {
		// A second concurrent GET: the reference server answers it 400 and
		// closes the session (the first GET gets the close packet).
		c.mu.Unlock()
		s.stats.dupPoll.Add(1)
		c.badInput("overlapping polling GET", nil)
		w.WriteHeader(http.StatusBadRequest)
		c.close(ReasonTransportError, closeDrop)
		return
	}
	if c.state != stateOpen && !c.draining {
		c.mu.Unlock()
		s.refuse(w, codeUnknownSID, "")
		return
	}
	c.pollActive = true
	var frames []engineio.Frame
	for {
		if c.state != stateOpen {
			// The close packet, or a noop when the client itself closed
			// (as the reference server answers a GET pending then).
			last := s.closeFrame
			if c.clientGone {
				last = s.noopFrame
			}
			frames = append(c.queue, last)
			c.queue = nil
			c.stopDrainingLocked()
			break
		}
		if c.transport != TransportPolling {
			frames = []engineio.Frame{s.noopFrame} // upgraded while waiting
			break
		}
		if len(c.queue) > 0 {
			frames = c.queue
			c.queue = nil
			break
		}
		if c.probed {
			frames = []engineio.Frame{s.noopFrame} // release the GET for the upgrade
			break
		}
		c.mu.Unlock()
		select {
		case <-c.pollWake:
			c.mu.Lock()
		case <-r.Context().Done():
			c.mu.Lock()
			c.pollActive = false
			c.mu.Unlock()
			s.stats.abortedPoll.Add(1)
			c.close(ReasonTransportError, closeDrop)
			return
		}
	}
	c.pollActive = false
	closed := c.state != stateOpen
	c.mu.Unlock()
	if closed {
		s.unregister(c)
	}

	n := 0
	for _, f := range frames {
		n += len(f.Data)
	}
	bp := s.getBuf()
	payload, ctype := c.appendPayload((*bp)[:0], frames)
	zp := s.getBuf()
	body, coding := s.compressBody(*zp, payload, r)
	h := w.Header()
	h.Set("Content-Type", ctype)
	if coding != "" {
		h.Set("Content-Encoding", coding)
	}
	if len(payload) >= compressThreshold && !s.cfg.DisableCompression {
		h.Add("Vary", "Accept-Encoding")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// A client that stops reading must not hold this goroutine and the body
	// forever: like a websocket flush, the response gets PingTimeout. The
	// deadline also bounds net/http's final flush, and net/http clears it
	// before the next request on the connection.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.PingTimeout))
	_, err := w.Write(body)
	if coding != "" {
		s.putBuf(zp, body)
	} else {
		s.putBuf(zp, *zp)
	}
	s.putBuf(bp, payload)
	s.stats.packetsOut.Add(uint64(len(frames)))
	s.stats.bytesOut.Add(uint64(len(body)))

	c.mu.Lock()
	c.queued -= n
	if c.queued < 0 {
		c.queued = 0
	}
	c.mu.Unlock()
	if err != nil {
		c.close(ReasonTransportError, closeDrop)
	}
}

// servePost handles the packets a client sends in a POST body. POSTs of one
// session are handled one at a time, in order.
func (s *Server) servePost(c *Conn, w http.ResponseWriter, r *http.Request) {
	binary := r.Header.Get("Content-Type") == "application/octet-stream"
	if binary && !c.eio3 {
		// Binary bodies are Engine.IO v3 only.
		c.badInput("binary polling body", nil)
		s.refuse(w, codeBadRequest, "")
		c.close(ReasonTransportError, closeDrop)
		return
	}
	max := s.cfg.MaxPayload
	if r.ContentLength > int64(max) {
		s.payloadTooLarge(c, w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if len(body) > max {
		s.payloadTooLarge(c, w)
		return
	}
	if err != nil {
		c.close(ReasonTransportError, closeDrop)
		return
	}

	c.readMu.Lock()
	err = c.decodePayload(body, binary)
	c.readMu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		s.stats.parse.Add(1)
		c.badInput("undecodable polling body", err)
		s.refuse(w, codeBadRequest, "")
		c.close(ReasonParseError, closeDrop)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func (s *Server) payloadTooLarge(c *Conn, w http.ResponseWriter) {
	s.stats.tooLarge.Add(1)
	c.tooLarge.Store(true)
	c.badInput("polling body over MaxPayload", nil)
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	c.close(ReasonTransportError, closeDrop)
}

func (s *Server) getBuf() *[]byte {
	if bp, ok := s.bufPool.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (s *Server) putBuf(bp *[]byte, b []byte) {
	if cap(b) > 1<<20 {
		return
	}
	*bp = b[:0]
	s.bufPool.Put(bp)
}

package transport

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/internal/logsample"
	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

const numShards = 64

// shutdownPollGrace is how long Shutdown waits at most for closed polling
// sessions to hand their last packets to the client's next GET. A live
// client, which polls again as soon as a GET returns, comes back within a
// round trip; waiting for a gone one until ctx ends would hold up the
// whole shutdown.
const shutdownPollGrace = 2 * time.Second

// Server is an Engine.IO v4 server; it is an http.Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	handler  Handler
	upgrades []string // offered in the open packet of a polling session

	pingFrame, noopFrame, closeFrame, probeFrame engineio.Frame

	shards  [numShards]shard
	stats   counters
	closing atomic.Bool
	group   group
	writers writerPool

	// Closed polling sessions kept for their last GET, and how long
	// Shutdown waits for them (shutdownPollGrace; tests shorten it).
	drains    group
	pollGrace time.Duration

	// Every accepted websocket, until its reader exits, so that Shutdown can
	// force them closed when its context ends.
	wsMu  sync.Mutex
	wsSet map[*wsConn]struct{}

	poller poller // quiet websockets, parked without a goroutine
	limits limits // MaxConnections, HandshakeRate
	badLog *logsample.Sampler

	bufPool sync.Pool // *[]byte scratch for polling responses
}

type shard struct {
	mu    sync.Mutex
	conns map[string]*Conn
}

// NewServer returns a Server for cfg, or an error if cfg is invalid.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		handler:    cfg.Handler,
		upgrades:   []string{},
		pingFrame:  engineio.TextFrame(engineio.PacketPing, nil),
		noopFrame:  engineio.TextFrame(engineio.PacketNoop, nil),
		closeFrame: engineio.TextFrame(engineio.PacketClose, nil),
		probeFrame: engineio.TextFrame(engineio.PacketPong, []byte("probe")),
		wsSet:      make(map[*wsConn]struct{}),
		pollGrace:  shutdownPollGrace,
	}
	s.limits.handshakes = newLimiter(cfg.HandshakeRate)
	s.badLog = logsample.New(cfg.Logger, slog.LevelInfo, 0)
	if !cfg.DisableUpgrades && cfg.allows(TransportWebSocket) {
		s.upgrades = []string{TransportWebSocket}
	}
	for i := range s.shards {
		s.shards[i].conns = make(map[string]*Conn)
	}
	return s, nil
}

// Count returns the number of open sessions.
func (s *Server) Count() int {
	return int(s.stats.openPolling.Load() + s.stats.openWebSocket.Load())
}

// ServeHTTP handles every Engine.IO request: handshakes, polling GETs and
// POSTs, and websocket upgrades. It dispatches on the query, not the path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.applyCORS(w, r) {
		return
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	if !s.cfg.allows(transport) {
		s.refuse(w, codeUnknownTransport, "")
		return
	}
	upgrade := isWebSocketUpgrade(r)
	if sid := q.Get("sid"); sid != "" {
		c := s.lookup(sid)
		if c == nil {
			if s.cfg.Remote != nil && s.cfg.Remote(w, r, sid) {
				return
			}
			s.refuse(w, codeUnknownSID, "")
			return
		}
		if upgrade {
			if transport != TransportWebSocket {
				s.refuse(w, codeBadRequest, "")
				return
			}
			if s.refuseOrigin(w, r) {
				return
			}
			s.serveUpgrade(c, w, r)
			return
		}
		if transport != c.Transport() {
			s.refuse(w, codeBadRequest, "")
			return
		}
		s.servePolling(c, w, r)
		return
	}

	// Handshake, checked in the reference server's order.
	if r.Method != http.MethodGet {
		s.refuse(w, codeBadHandshakeMethod, "")
		return
	}
	if (transport == TransportWebSocket) != upgrade {
		s.refuse(w, codeBadRequest, "")
		return
	}
	if s.closing.Load() {
		s.stats.unavailable.Add(1)
		writeError(w, codeForbidden, http.StatusServiceUnavailable, ErrServerClosed.Error())
		return
	}
	if s.refuseOrigin(w, r) {
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Status != http.StatusForbidden {
				if se.Status == http.StatusServiceUnavailable {
					s.stats.unavailable.Add(1)
				} else {
					s.stats.codes[codeForbidden].Add(1)
				}
				writeError(w, codeForbidden, se.Status, err.Error())
				return
			}
			s.refuse(w, codeForbidden, err.Error())
			return
		}
	}
	eio := q.Get("EIO")
	if eio != "4" && (eio != "3" || !s.cfg.AllowEIO3) {
		s.refuse(w, codeUnsupportedProtocol, "")
		return
	}
	if eio == "3" && q.Has("j") {
		// JSONP polling (browsers without XHR) is not served.
		s.refuse(w, codeBadRequest, "JSONP polling is not supported")
		return
	}
	admitted, ok := s.admit(w)
	if !ok {
		return
	}
	defer admitted()
	req := NewRequest(r, time.Now())
	if transport == TransportWebSocket {
		s.serveWebSocketHandshake(w, r, req)
		return
	}
	c := s.newConn(s.newID(), req, TransportPolling, nil)
	s.setCookie(w, c.id)
	s.open(c)
	s.servePoll(c, w, r)
}

func (s *Server) refuse(w http.ResponseWriter, code int, message string) {
	s.stats.codes[code].Add(1)
	writeError(w, code, 0, message)
}

// setCookie sets Config.Cookie on a handshake response: the session ID, for
// load balancers that stick on a cookie (the reference server's cookie
// option, with its defaults: path /, HttpOnly, SameSite=Lax).
func (s *Server) setCookie(w http.ResponseWriter, sid string) {
	if s.cfg.Cookie == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cfg.Cookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func isWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

// newID returns a session id: Config.SessionIDPrefix, then 15 random bytes
// in URL-safe base64 (20 chars), the shape of the reference server's ids.
func (s *Server) newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	p := s.cfg.SessionIDPrefix
	id := make([]byte, len(p), len(p)+20)
	copy(id, p)
	return string(base64.RawURLEncoding.AppendEncode(id, b[:]))
}

func (s *Server) shardOf(id string) *shard {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return &s.shards[h%numShards]
}

func (s *Server) lookup(id string) *Conn {
	sh := s.shardOf(id)
	sh.mu.Lock()
	c := sh.conns[id]
	sh.mu.Unlock()
	return c
}

func (s *Server) register(c *Conn) {
	sh := s.shardOf(c.id)
	sh.mu.Lock()
	sh.conns[c.id] = c
	sh.mu.Unlock()
}

func (s *Server) unregister(c *Conn) {
	sh := s.shardOf(c.id)
	sh.mu.Lock()
	if sh.conns[c.id] == c {
		delete(sh.conns, c.id)
	}
	sh.mu.Unlock()
}

// newConn builds a session whose first queued frame is its open packet.
func (s *Server) newConn(id string, req *Request, transport string, ws *wsConn) *Conn {
	c := &Conn{srv: s, id: id, req: req, transport: transport, ws: ws}
	c.setProtocol(req)
	upgrades := s.upgrades
	if transport == TransportWebSocket {
		upgrades = []string{}
	} else {
		c.pollWake = make(chan struct{}, 1)
	}
	open := engineio.NewOpen(c.id, upgrades, s.cfg.PingInterval, s.cfg.PingTimeout, s.cfg.MaxPayload).Frame()
	c.queue = append(c.queue, open)
	c.queued = len(open.Data)
	return c
}

// open registers c, starts its heartbeat and calls OnOpen.
func (s *Server) open(c *Conn) {
	s.stats.handshakes.Add(1)
	if c.eio3 {
		s.stats.handshakesEIO3.Add(1)
	}
	if c.transport == TransportPolling {
		s.stats.openPolling.Add(1)
	} else {
		s.stats.openWebSocket.Add(1)
	}
	c.mu.Lock()
	c.delivering = true // OnOpen runs first: OnClose waits for it
	first := c.firstTimer()
	c.due = time.Now().Add(first)
	c.timer = time.AfterFunc(first, c.onTimer)
	c.mu.Unlock()
	s.register(c)
	if s.closing.Load() {
		c.close(ReasonServerShutdown, closeFlush)
	}
	c.callOnOpen()
	c.endDelivery()
}

// Shutdown stops accepting handshakes, closes every session with reason
// "server shutting down" (flushing what is queued), and waits until every
// goroutine of the server has exited. When ctx ends first it closes the
// remaining websockets at once, waits for their goroutines, and returns
// ctx's error.
//
// Meanwhile, closed polling sessions without a pending GET wait for the
// client's next GET to take their last packets and the close packet, for
// up to a few seconds (a live client polls again within a round trip) or
// until ctx ends; those still waiting then are dropped, which is not an
// error: their clients are gone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	var conns []*Conn
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, c := range sh.conns {
			conns = append(conns, c)
		}
		sh.mu.Unlock()
	}
	for _, c := range conns {
		c.close(ReasonServerShutdown, closeFlush)
	}
	// Polling sessions closed without a pending GET stay registered for
	// the client's next GET, within the grace.
	gctx, cancel := context.WithTimeout(ctx, s.pollGrace)
	defer cancel()
	err := s.group.wait(ctx)
	_ = s.drains.wait(gctx)
	s.dropDraining()
	if err != nil {
		s.wsMu.Lock()
		open := make([]*wsConn, 0, len(s.wsSet))
		for t := range s.wsSet {
			open = append(open, t)
		}
		s.wsMu.Unlock()
		for _, t := range open {
			t.closeNow()
		}
		_ = s.group.wait(context.Background())
	}
	s.poller.stop()
	return err
}

// dropDraining forgets the closed polling sessions still waiting for their
// last GET, once Shutdown stops waiting for them.
func (s *Server) dropDraining() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		conns := sh.conns
		sh.conns = make(map[string]*Conn)
		sh.mu.Unlock()
		for _, c := range conns {
			c.mu.Lock()
			if c.stopDrainingLocked() {
				c.timer.Stop()
			}
			c.mu.Unlock()
		}
	}
}

// group counts the goroutines a Server owns (or, for drains, the sessions
// Shutdown waits for); unlike sync.WaitGroup, it may grow again while
// someone waits.
type group struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0 while someone waits
}

func (g *group) goFunc(f func()) {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
	go func() {
		defer g.done()
		f()
	}()
}

// add counts one more without starting a goroutine; done uncounts it.
func (g *group) add() {
	g.mu.Lock()
	g.n++
	g.mu.Unlock()
}

func (g *group) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

func (g *group) wait(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

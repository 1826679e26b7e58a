package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/histogram"
	"github.com/sockgate/sockgate/pkg/internal/logsample"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// Server is a Socket.IO v5 server on top of an Engine.IO v4 transport. It is
// an http.Handler to mount at /socket.io/. All methods may be called
// concurrently.
type Server struct {
	cfg        Config
	log        *slog.Logger
	engine     *transport.Server // nil in unit tests
	adapter    adapter.Adapter
	ownAdapter bool
	main       *Namespace

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	clients map[*client]struct{}
	closed  bool
	// DynamicNamespaces
	dynMatch func(name string) bool
	dynSetup func(n *Namespace)
	closing  map[string]chan struct{} // dynamic namespaces being removed; closed when done

	// wg counts socket drainers and server-side handlers. Each starts under
	// workMu's read lock while workStopped is false; Shutdown sets it under
	// the write lock before wg.Wait, so no Add races with the Wait.
	wg          sync.WaitGroup
	workMu      sync.RWMutex
	workStopped bool
	stats       counters
	recStats    recoveryCounters
	eager       *eagerStore        // nil unless Recovery.Persist is PersistEager
	badLog      *logsample.Sampler // client-caused lines, sampled

	namesMu sync.Mutex                        // writers of names
	names   atomic.Pointer[map[string]string] // raw event name → name (eventName)
}

type counters struct {
	connections, sockets, acksPending                                            atomic.Int64
	packetsIn, packetsOut, broadcasts, handlerPanics, connectErrors, parseErrors atomic.Uint64

	eventsDropped, rateLimited, acksRefused, namespacesRefused, outrun atomic.Uint64
	ackRoundTrip                                                       *histogram.Histogram // seconds from an EmitWithAck write to the client's ack
	fanOut                                                             *histogram.Histogram // local recipients of each delivered broadcast
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Connections   int64  // open Engine.IO connections
	Sockets       int64  // connected sockets, all namespaces
	Namespaces    int    // namespaces created with Of
	PacketsIn     uint64 // Socket.IO packets received
	PacketsOut    uint64 // Socket.IO packets written (a broadcast counts once per recipient)
	Broadcasts    uint64 // broadcasts delivered on this node (local or from the cluster)
	AcksPending   int64  // acks the server waits for
	HandlerPanics uint64 // panics recovered in user handlers
	ConnectErrors uint64 // connections refused (unknown namespace, middleware)
	ParseErrors   uint64 // connections closed for a malformed packet

	EventsDropped     uint64 // packets dropped over Config.EventRate
	RateLimited       uint64 // sockets disconnected for staying over Config.EventRate
	AcksRefused       uint64 // EmitWithAck refused at Config.MaxAcks (broadcast recipients skipped included)
	NamespacesRefused uint64 // CONNECTs refused at Config.MaxNamespaces (also in ConnectErrors)
	Outrun            uint64 // sockets disconnected for outrunning their handlers (MaxPendingEvents/Bytes)
	// AckRoundTrip is the time from a server-to-client EmitWithAck (one
	// socket, or each recipient of a broadcast) to the client's ack, in
	// seconds; acks that never come are not observed.
	AckRoundTrip histogram.Snapshot
	// FanOut is the number of local recipients of each broadcast delivered
	// on this node, local or from the cluster.
	FanOut histogram.Snapshot
}

// NewServer returns a server with the main namespace "/" created.
func NewServer(cfg Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	engine, err := transport.NewServer(s.cfg.transport(engineHandler{s}))
	if err != nil {
		s.closeAdapter()
		return nil, fmt.Errorf("session: %w", err)
	}
	s.engine = engine
	return s, nil
}

// newServer builds the server without its transport (unit tests feed it
// fake connections).
func newServer(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Recovery.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		adapter: cfg.Adapter,
		nsps:    make(map[string]*Namespace),
		clients: make(map[*client]struct{}),
		badLog:  logsample.New(cfg.Logger, slog.LevelWarn, 0),
	}
	s.stats.ackRoundTrip = histogram.NewLatency()
	s.stats.fanOut = histogram.NewSize()
	if s.adapter == nil {
		s.adapter, s.ownAdapter = adapter.NewMemory(), true
	}
	main, err := s.Namespace("/")
	if err != nil {
		s.closeAdapter()
		return nil, err
	}
	s.main = main
	if s.recoveryOn() && cfg.Recovery.Persist == PersistEager {
		s.eager = newEagerStore(s)
	}
	return s, nil
}

// ServeHTTP serves the Engine.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Namespace returns the namespace name, creating it (and attaching it to
// the adapter) on first use. Clients can connect only to namespaces that
// exist; others are refused with "Invalid namespace".
func (s *Server) Namespace(name string) (*Namespace, error) {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	for {
		s.mu.Lock()
		if n := s.nsps[name]; n != nil {
			n.dynamic = false // kept for good from now on
			s.mu.Unlock()
			return n, nil
		}
		if closing := s.closing[name]; closing != nil {
			s.mu.Unlock()
			<-closing // a dynamic namespace of that name is being removed
			continue
		}
		n, err := s.createLocked(name)
		s.mu.Unlock()
		if n != nil {
			close(n.ready)
		}
		return n, err
	}
}

// createLocked creates and registers the namespace name; s.mu is held. The
// caller closes its ready channel once it is set up.
func (s *Server) createLocked(name string) (*Namespace, error) {
	if s.closed {
		return nil, ErrServerClosed
	}
	n := &Namespace{srv: s, name: name, ready: make(chan struct{})}
	an, err := s.adapter.Namespace(local{n})
	if err != nil {
		return nil, fmt.Errorf("session: namespace %s: %w", name, err)
	}
	if err := s.enableRecovery(name, an); err != nil {
		an.Close()
		return nil, err
	}
	n.adapter = an
	s.nsps[name] = n
	return n, nil
}

// Of is Namespace for setup code: it panics if the adapter cannot attach
// the namespace (the memory adapter always can, until Shutdown).
func (s *Server) Of(name string) *Namespace {
	n, err := s.Namespace(name)
	if err != nil {
		panic(err)
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// Sockets returns the main namespace "/".
func (s *Server) Sockets() *Namespace { return s.main }

// Shortcuts to the main namespace.

func (s *Server) Use(mw func(*Socket) error)               { s.main.Use(mw) }
func (s *Server) OnConnection(f func(*Socket))             { s.main.OnConnection(f) }
func (s *Server) To(rooms ...string) BroadcastOperator     { return s.main.To(rooms...) }
func (s *Server) In(rooms ...string) BroadcastOperator     { return s.main.In(rooms...) }
func (s *Server) Except(rooms ...string) BroadcastOperator { return s.main.Except(rooms...) }
func (s *Server) Emit(event string, args ...any) error     { return s.main.Emit(event, args...) }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	nsps := len(s.nsps)
	s.mu.RUnlock()
	c := &s.stats
	return Stats{
		Connections:   c.connections.Load(),
		Sockets:       c.sockets.Load(),
		Namespaces:    nsps,
		PacketsIn:     c.packetsIn.Load(),
		PacketsOut:    c.packetsOut.Load(),
		Broadcasts:    c.broadcasts.Load(),
		AcksPending:   c.acksPending.Load(),
		HandlerPanics: c.handlerPanics.Load(),
		ConnectErrors: c.connectErrors.Load(),
		ParseErrors:   c.parseErrors.Load(),

		EventsDropped:     c.eventsDropped.Load(),
		RateLimited:       c.rateLimited.Load(),
		AcksRefused:       c.acksRefused.Load(),
		NamespacesRefused: c.namespacesRefused.Load(),
		Outrun:            c.outrun.Load(),
		AckRoundTrip:      c.ackRoundTrip.Snapshot(),
		FanOut:            c.fanOut.Snapshot(),
	}
}

// AtConnectionLimit reports whether the transport has reached
// Config.MaxConnections and not yet dropped below 95 % of it since.
func (s *Server) AtConnectionLimit() bool {
	return s.engine != nil && s.engine.AtConnectionLimit()
}

// EngineStats returns a snapshot of the Engine.IO transport's counters.
func (s *Server) EngineStats() transport.Stats {
	if s.engine == nil {
		return transport.Stats{}
	}
	return s.engine.Stats()
}

// CloseConnections closes up to n Engine.IO connections without sending
// their sockets a DISCONNECT packet, so that the clients see "transport
// close" and reconnect (to another node of the cluster): the step of a paced
// drain. It returns how many connections it closed.
func (s *Server) CloseConnections(n int) int {
	s.mu.Lock()
	picked := make([]*client, 0, min(n, len(s.clients)))
	for c := range s.clients {
		if len(picked) == n {
			break
		}
		if !c.draining { // a closed polling session lingers until its last GET
			c.draining = true
			picked = append(picked, c)
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	s.handOver(ctx, picked) // with recovery on, sessions are stored first
	cancel()
	for _, c := range picked {
		c.conn.Close(ReasonServerShuttingDown)
	}
	return len(picked)
}

// Shutdown disconnects every socket with reason "server shutting down",
// closes the connections and the namespaces' adapters, and waits for the
// server's goroutines (handlers still running included) or ctx, whichever
// comes first: when ctx ends first it returns ctx.Err() (unless the
// transport's shutdown failed before), as http.Server.Shutdown does, and
// the handlers still running keep running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()

	if s.eager != nil {
		s.eager.close()
	}
	s.handOver(ctx, clients)
	for _, c := range clients {
		c.closeSockets(ReasonServerShuttingDown, false)
		c.conn.Close(ReasonServerShuttingDown)
	}
	var err error
	if s.engine != nil {
		err = s.engine.Shutdown(ctx)
	}
	s.workMu.Lock()
	s.workStopped = true // from now on, nothing new starts (goWork)
	s.workMu.Unlock()
	done := make(chan struct{})
	go func() { // exits with the last handler, even if ctx ends first
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	s.mu.RLock()
	for _, n := range s.nsps {
		n.adapter.Close()
	}
	s.mu.RUnlock()
	s.closeAdapter()
	return err
}

// goWork runs f on a goroutine that Shutdown waits for. Once Shutdown has
// begun that wait it starts nothing and returns false: work that arrives
// then (a server-side event from a Redis subscriber, a late socket job) is
// dropped.
func (s *Server) goWork(f func()) bool {
	s.workMu.RLock()
	defer s.workMu.RUnlock()
	if s.workStopped {
		return false
	}
	s.wg.Go(f)
	return true
}

// goDrain is goWork for a socket's drain function, which calls s.wg.Done
// itself: starting it allocates nothing.
func (s *Server) goDrain(fn func()) bool {
	s.workMu.RLock()
	defer s.workMu.RUnlock()
	if s.workStopped {
		return false
	}
	s.wg.Add(1)
	go fn()
	return true
}

// maxNames and maxNameLen bound the interned event names (eventName).
const (
	maxNames   = 256
	maxNameLen = 64
)

// eventName returns the event name that raw, the first element of an
// event's data, stands for. Names come from a copy-on-write table, so the
// names that clients keep sending cost no allocation; the table takes the
// first maxNames names of at most maxNameLen bytes that clients sent, and
// any other name is converted on each event.
func (s *Server) eventName(raw []byte) string {
	if m := s.names.Load(); m != nil {
		if name, ok := (*m)[string(raw)]; ok {
			return name
		}
	}
	name, err := socketio.RawEventName(raw)
	if err != nil || len(raw) > maxNameLen {
		return name
	}
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	old := s.names.Load()
	if old != nil && len(*old) >= maxNames {
		return name
	}
	m := make(map[string]string, 1+len(ptrMap(old)))
	for k, v := range ptrMap(old) {
		m[k] = v
	}
	m[string(raw)] = name
	s.names.Store(&m)
	return name
}

func ptrMap(m *map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}

func (s *Server) closeAdapter() {
	if s.ownAdapter {
		s.adapter.Close()
	}
}

// open starts the Socket.IO side of a new Engine.IO connection.
func (s *Server) open(cn conn, req *transport.Request) *client {
	c := &client{srv: s, conn: cn, req: req}
	c.dec.Limits.MaxAttachments = s.cfg.MaxAttachments
	c.dec.Limits.MaxDepth = s.cfg.MaxDepth
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.clients[c] = struct{}{}
		s.stats.connections.Add(1)
	}
	s.mu.Unlock()
	if closed {
		c.closed = true
		cn.Close(ReasonServerShuttingDown)
		return c
	}
	t := time.AfterFunc(s.cfg.ConnectTimeout, c.connectTimeout)
	c.mu.Lock()
	c.timer = t
	c.mu.Unlock()
	if c.legacy() {
		// A legacy client is in the main namespace from the start.
		c.connect(&socketio.Packet{Type: socketio.Connect, Namespace: "/"})
	}
	return c
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	if _, ok := s.clients[c]; ok {
		delete(s.clients, c)
		s.stats.connections.Add(-1)
	}
	s.mu.Unlock()
}

// engineHandler receives the transport's connection events.
type engineHandler struct{ s *Server }

func (h engineHandler) OnOpen(c *transport.Conn) { c.SetValue(h.s.open(c, c.Request())) }

func (h engineHandler) OnMessage(c *transport.Conn, data []byte, binary bool) {
	if cl, ok := c.Value().(*client); ok {
		cl.onMessage(data, binary)
	}
}

func (h engineHandler) OnClose(c *transport.Conn, reason string) {
	if cl, ok := c.Value().(*client); ok {
		cl.onClose(reason)
	}
}

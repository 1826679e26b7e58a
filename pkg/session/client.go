package session

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// conn is what the session layer needs of an Engine.IO connection;
// *transport.Conn implements it (tests use a fake).
type conn interface {
	ID() string
	Transport() string
	// Protocol is the Engine.IO revision: 4, or 3 for a socket.io-client
	// 2.x (Socket.IO protocol v4) client.
	Protocol() int
	Send(frames []engineio.Frame, volatile bool) error
	// SendCopy is Send for frames the caller reuses once it returns: the
	// connection copies what it keeps.
	SendCopy(frames []engineio.Frame, volatile bool) error
	// Enqueue is Send for broadcasts: it never writes on the caller's
	// goroutine.
	Enqueue(frames []engineio.Frame, volatile bool) error
	Close(reason string)
}

// client is the Socket.IO side of one Engine.IO connection: its decoder and
// the sockets (one per namespace) it carries.
type client struct {
	srv  *Server
	conn conn
	req  *transport.Request
	dec  socketio.Decoder // used by the connection's read path only

	draining bool // closed by CloseConnections; guarded by srv.mu

	mu      sync.Mutex
	timer   *time.Timer // connect timeout; nil once a socket connected
	sockets []*Socket   // pending and connected, at most one per namespace
	closed  bool
}

func (c *client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

func (c *client) hasSockets() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sockets) > 0
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	n := len(c.sockets)
	c.sockets = slices.DeleteFunc(c.sockets, func(x *Socket) bool { return x == s })
	removed := len(c.sockets) < n
	c.mu.Unlock()
	if removed {
		c.srv.release(s.nsp, true)
	}
}

// onMessage handles one Engine.IO message, serially per connection.
func (c *client) onMessage(data []byte, binary bool) {
	var (
		pkt   socketio.Packet // a text packet, decoded on the stack
		buf   [6][]byte       // and the elements of its data
		elems [][]byte
		p     *socketio.Packet
		err   error
	)
	if binary {
		p, err = c.dec.AddAttachment(data)
	} else {
		var done bool
		done, elems, err = c.dec.DecodeElements(data, &pkt, buf[:0])
		if done {
			p = &pkt
		}
	}
	if err != nil {
		// The connection closes: this is its only log line at Debug; the
		// sampler tells the operator without letting clients flood the log.
		c.srv.stats.parseErrors.Add(1)
		c.srv.log.Debug("session: closing connection: parse error", "sid", c.conn.ID(), "err", err)
		c.srv.badLog.Log("parse error", "session: connections closed for a parse error", "err", err)
		c.conn.Close(ReasonParseError)
		return
	}
	if p == nil {
		return // a binary packet waits for its attachments
	}
	c.srv.stats.packetsIn.Add(1)
	switch p.Type {
	case socketio.Connect:
		c.connect(p)
	case socketio.Disconnect:
		if s := c.socket(p.Namespace); s != nil {
			s.close(ReasonClientDisconnect, false)
		}
	case socketio.Event, socketio.BinaryEvent:
		// As socket.io does, packets for a namespace the client has not
		// connected to are ignored.
		if s := c.socket(p.Namespace); s != nil && s.allowPacket() {
			s.enqueueEvent(p, elems)
		}
	case socketio.Ack, socketio.BinaryAck:
		if s := c.socket(p.Namespace); s != nil && p.HasID && s.allowPacket() {
			q := *p // the ack's callback may keep it
			s.onAck(&q)
		}
	}
}

func (c *client) connect(p *socketio.Packet) {
	name, auth, id := p.Namespace, json.RawMessage(p.Data), ""
	if c.legacy() {
		name, auth, id = c.legacyConnect(p.Namespace)
	}
	// The socket counts in its namespace's refs while it is in c.sockets
	// (a dynamic namespace goes when the last one leaves).
	nsp := c.srv.acquire(name, true)
	if nsp == nil {
		c.srv.stats.connectErrors.Add(1)
		// Node's socket.io sends every client, legacy ones too, this object.
		c.sendConnectErrorObject(name, "Invalid namespace", nil)
		return
	}
	if id == "" {
		id = newID()
	}
	s := &Socket{id: id, nsp: nsp, client: c, auth: auth}
	if c.srv.recoveryOn() {
		s.rec = &socketRecovery{pid: newID()}
	}
	if cfg := &c.srv.cfg; cfg.EventRate > 0 {
		s.rate = &eventRate{limiter: rate.NewLimiter(rate.Limit(cfg.EventRate), cfg.EventBurst)}
	}
	c.mu.Lock()
	if c.closed || slices.ContainsFunc(c.sockets, func(x *Socket) bool { return x.nsp == nsp }) {
		c.mu.Unlock()
		c.srv.release(nsp, true)
		return // a second CONNECT to the same namespace is ignored
	}
	if limit := c.srv.cfg.MaxNamespaces; limit > 0 && len(c.sockets) >= limit {
		c.mu.Unlock()
		c.srv.release(nsp, true) // a dynamic namespace it created goes again
		c.srv.stats.connectErrors.Add(1)
		c.srv.stats.namespacesRefused.Add(1)
		c.sendConnectError(name, "Too many namespaces", nil)
		return
	}
	c.sockets = append(c.sockets, s)
	c.mu.Unlock()
	s.enqueue(&job{kind: jobConnect})
}

// sendConnectError refuses a CONNECT to nsp with a middleware's error.
func (c *client) sendConnectError(nsp, message string, data any) {
	if c.legacy() {
		c.sendLegacyConnectError(nsp, message, data)
		return
	}
	c.sendConnectErrorObject(nsp, message, data)
}

// sendConnectErrorObject sends CONNECT_ERROR with {"message","data"}.
func (c *client) sendConnectErrorObject(nsp, message string, data any) {
	payload := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{message, data}
	b, err := json.Marshal(payload)
	if err != nil { // unmarshalable data: send the message alone
		b, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{message})
	}
	c.srv.stats.packetsOut.Add(1)
	c.conn.Send(encodeFrames(&socketio.Packet{Type: socketio.ConnectError, Namespace: nsp, Data: b}), false)
}

// connected stops the connect timeout once a socket has connected, and
// lets the timer go: an idle connection keeps no timer of its own here.
func (c *client) connected() {
	c.mu.Lock()
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// connectTimeout closes a connection that has not connected any socket in
// time, as socket.io's connectTimeout does.
func (c *client) connectTimeout() {
	c.mu.Lock()
	idle := !c.closed && !slices.ContainsFunc(c.sockets, (*Socket).Connected)
	c.mu.Unlock()
	if idle {
		c.conn.Close(ReasonForcedClose)
	}
}

// disconnect disconnects every socket of the connection (each client
// socket gets a DISCONNECT) and closes the connection.
func (c *client) disconnect() {
	c.closeSockets(ReasonServerDisconnect, true)
	c.conn.Close(ReasonForcedServerClose)
}

// closeSockets closes every socket of the connection with reason.
func (c *client) closeSockets(reason string, notify bool) {
	c.mu.Lock()
	socks := slices.Clone(c.sockets)
	c.mu.Unlock()
	for _, s := range socks {
		s.close(reason, notify)
	}
}

// onClose runs once, when the Engine.IO connection has closed.
func (c *client) onClose(reason string) {
	c.mu.Lock()
	c.closed = true
	t := c.timer
	c.timer = nil
	c.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	c.closeSockets(reason, false)
	c.srv.removeClient(c)
}

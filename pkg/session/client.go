package session

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

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

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	c.sockets = slices.DeleteFunc(c.sockets, func(x *Socket) bool { return x == s })
	c.mu.Unlock()
}

// onMessage handles one Engine.IO message, serially per connection.
func (c *client) onMessage(data []byte, binary bool) {
	var (
		p   *socketio.Packet
		err error
	)
	if binary {
		p, err = c.dec.AddAttachment(data)
	} else {
		p, err = c.dec.Decode(data)
	}
	if err != nil {
		c.srv.stats.parseErrors.Add(1)
		c.srv.log.Warn("session: closing connection: parse error", "sid", c.conn.ID(), "err", err)
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
		if s := c.socket(p.Namespace); s != nil {
			s.enqueueEvent(p)
		}
	case socketio.Ack, socketio.BinaryAck:
		if s := c.socket(p.Namespace); s != nil && p.HasID {
			s.onAck(p)
		}
	}
}

func (c *client) connect(p *socketio.Packet) {
	name, auth, id := p.Namespace, json.RawMessage(p.Data), ""
	if c.legacy() {
		name, auth, id = c.legacyConnect(p.Namespace)
	}
	nsp := c.srv.namespace(name)
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
	c.mu.Lock()
	if c.closed || slices.ContainsFunc(c.sockets, func(x *Socket) bool { return x.nsp == nsp }) {
		c.mu.Unlock()
		return // a second CONNECT to the same namespace is ignored
	}
	c.sockets = append(c.sockets, s)
	c.mu.Unlock()
	s.enqueue(job{kind: jobConnect})
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

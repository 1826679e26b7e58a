// Package fakeserver is a tiny in-process Socket.IO server for the load
// generator's own tests: websocket only, namespace "/", the built-in events
// join, leave, message and echo with the gateway's semantics, a fast ping.
// It is built on the project's codecs and is not meant for anything else.
package fakeserver

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Server is an http.Handler. All methods may be called concurrently.
type Server struct {
	PingInterval time.Duration // default 25s

	mu      sync.Mutex
	conns   map[*conn]struct{}
	nextSID atomic.Int64
	wg      sync.WaitGroup
}

type conn struct {
	ws    *websocket.Conn
	rooms map[string]bool // guarded by Server.mu
}

// Sockets returns how many clients are connected.
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ServeHTTP serves /metrics (a sockets gauge) and websocket sessions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		w.Write([]byte("# TYPE fake_connected_sockets gauge\nfake_connected_sockets " + strconv.Itoa(s.Sockets()) + "\n"))
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.serve(r.Context(), ws)
}

// Wait waits for every connection handler to return.
func (s *Server) Wait() { s.wg.Wait() }

func (s *Server) serve(ctx context.Context, ws *websocket.Conn) {
	defer ws.CloseNow()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := s.PingInterval
	if interval == 0 {
		interval = 25 * time.Second
	}
	sid := "s" + strconv.FormatInt(s.nextSID.Add(1), 10)
	open := engineio.NewOpen(sid, nil, interval, 20*time.Second, 1e6)
	if ws.Write(ctx, websocket.MessageText, open.Frame().Data) != nil {
		return
	}
	c := &conn{ws: ws, rooms: map[string]bool{}}
	var pinger sync.WaitGroup
	defer pinger.Wait()
	defer cancel()
	pinger.Add(1)
	go func() {
		defer pinger.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ws.Write(ctx, websocket.MessageText, engineio.TextFrame(engineio.PacketPing, nil).Data) != nil {
					return
				}
			}
		}
	}()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var dec socketio.Decoder
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		ep, err := engineio.DecodePacket(data, typ == websocket.MessageBinary)
		if err != nil || ep.Type != engineio.PacketMessage || ep.Binary {
			continue
		}
		p, err := dec.Decode(ep.Data)
		if err != nil {
			return
		}
		if p == nil {
			continue
		}
		switch p.Type {
		case socketio.Connect:
			s.mu.Lock()
			if s.conns == nil {
				s.conns = map[*conn]struct{}{}
			}
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.send(ctx, c, &socketio.Packet{Type: socketio.Connect, Data: []byte(`{"sid":"` + sid + `"}`)})
		case socketio.Disconnect:
			return
		case socketio.Event:
			s.event(ctx, c, p)
		}
	}
}

func (s *Server) send(ctx context.Context, c *conn, p *socketio.Packet) {
	buf := engineio.AppendPacket(nil, engineio.Packet{Type: engineio.PacketMessage})
	_ = c.ws.Write(ctx, websocket.MessageText, p.Append(buf))
}

func (s *Server) event(ctx context.Context, c *conn, p *socketio.Packet) {
	name, args, err := socketio.SplitEvent(p.Data)
	if err != nil {
		return
	}
	ack := func(elems ...[]byte) {
		if p.HasID {
			s.send(ctx, c, &socketio.Packet{Type: socketio.Ack, ID: p.ID, HasID: true, Data: socketio.AppendArray(nil, elems...)})
		}
	}
	switch name {
	case "join", "leave":
		if len(args) == 0 {
			return
		}
		s.mu.Lock()
		c.rooms[string(args[0])] = name == "join"
		s.mu.Unlock()
		ack([]byte("true"))
	case "echo":
		ack(args...)
	case "message":
		out := &socketio.Packet{Type: socketio.Event, Data: socketio.AppendEvent(nil, "message", args...)}
		var to []*conn
		s.mu.Lock()
		for o := range s.conns {
			inAll := len(c.rooms) == 0
			for r, in := range c.rooms {
				if in && o.rooms[r] {
					inAll = true
				}
			}
			if inAll {
				to = append(to, o)
			}
		}
		s.mu.Unlock()
		for _, o := range to {
			s.send(ctx, o, out)
		}
		ack([]byte("true"))
	}
}

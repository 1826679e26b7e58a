package gateway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sockgate/sockgate/pkg/session"
)

// Built-in events of the main namespace (README "Built-in events"):
//
//	join    (room, [ack])        join room; ack true
//	leave   (room, [ack])        leave room; ack true
//	message (...args, [ack])     to the socket's rooms, or to everyone when it
//	                             is in none; ack true
//	echo    (...args, ack)       ack with the same args
//
// Arguments are relayed as received (raw JSON and binary attachments), so
// relayed and echoed payloads keep their exact bytes. A bad room name gets an
// ack {"error": "..."}, or is ignored with a debug log when no ack was asked.

// maxRoomLen bounds a room name, in bytes.
const maxRoomLen = 128

// ackError is the ack payload of a refused request.
type ackError struct {
	Error string `json:"error"`
}

func (g *Gateway) handleEvent(s *session.Socket, ev *session.Event) {
	switch ev.Name {
	case "join":
		g.join(s, ev)
	case "leave":
		g.leave(s, ev)
	case "message":
		g.message(s, ev)
	case "echo":
		g.echo(s, ev)
	default:
		if g.backends.event {
			g.backends.proxy.Event(s, ev)
			return
		}
		g.refuse(s, ev, "unknown event")
	}
}

func (g *Gateway) join(s *session.Socket, ev *session.Event) {
	room, ok := g.clientRoom(s, ev)
	if !ok {
		return
	}
	rooms := s.Rooms() // its own ID room included
	if len(rooms) > g.cfg.MaxRooms && !contains(rooms, room) {
		g.roomsRefused.Add(1)
		g.refuse(s, ev, fmt.Sprintf("too many rooms (at most %d)", g.cfg.MaxRooms))
		return
	}
	s.Join(room)
	g.ackTrue(ev)
}

func (g *Gateway) leave(s *session.Socket, ev *session.Event) {
	room, ok := g.clientRoom(s, ev)
	if !ok {
		return
	}
	if room != s.ID() { // a socket keeps its own room
		s.Leave(room)
	}
	g.ackTrue(ev)
}

func (g *Gateway) message(s *session.Socket, ev *session.Event) {
	rooms := s.Rooms()
	// Drop the socket's own ID room; what is left are the rooms it joined.
	joined := rooms[:0]
	for _, r := range rooms {
		if r != s.ID() {
			joined = append(joined, r)
		}
	}
	// ev.Data is the received array ["message", ...args], relayed as is.
	if len(joined) == 0 && g.cfg.Backend.NoClientBroadcast {
		g.refuse(s, ev, "not allowed")
		return
	}
	var err error
	if len(joined) == 0 {
		err = g.main.EmitRaw(ev.Data, ev.Attachments)
	} else {
		err = g.main.To(joined...).EmitRaw(ev.Data, ev.Attachments)
	}
	if err != nil {
		g.log.Warn("message: broadcast failed", "sid", s.ID(), "err", err)
	}
	g.ackTrue(ev)
}

func (g *Gateway) echo(s *session.Socket, ev *session.Event) {
	if !ev.HasAck() {
		g.log.Debug("echo without ack ignored", "sid", s.ID())
		return
	}
	// The arguments keep their placeholders, which still number the same
	// attachments in the same order.
	if err := ev.AckElements(ev.Args(), ev.Attachments); err != nil {
		g.log.Debug("echo: ack failed", "sid", s.ID(), "err", err)
	}
}

// clientRoom returns the room of a join or leave if it is valid and the
// room policy lets the client use it; else it refuses the event.
func (g *Gateway) clientRoom(s *session.Socket, ev *session.Event) (string, bool) {
	room, err := roomArg(ev)
	if err != nil {
		g.refuse(s, ev, err.Error())
		return "", false
	}
	if !g.backends.join.allows(room) {
		g.refuse(s, ev, "not allowed")
		return "", false
	}
	return room, true
}

// roomArg reads and checks the room name, the event's first argument.
func roomArg(ev *session.Event) (string, error) {
	if len(ev.Args()) == 0 {
		return "", errRoom("missing room name")
	}
	if _, isBinary := ev.Binary(0); isBinary {
		return "", errRoom("room name must be a string")
	}
	var room string
	if err := ev.Decode(0, &room); err != nil || !isJSONString(ev.Args()[0]) {
		return "", errRoom("room name must be a string")
	}
	switch {
	case room == "":
		return "", errRoom("room name is empty")
	case len(room) > maxRoomLen:
		return "", errRoom(fmt.Sprintf("room name is longer than %d bytes", maxRoomLen))
	}
	return room, nil
}

type errRoom string

func (e errRoom) Error() string { return string(e) }

// isJSONString reports whether raw JSON is a string (null decodes into a Go
// string without error, and must be refused too).
func isJSONString(raw []byte) bool {
	return len(raw) >= 2 && raw[0] == '"'
}

func (g *Gateway) ackTrue(ev *session.Event) {
	if ev.HasAck() {
		ev.AckRaw(ackTrueData, nil)
	}
}

var ackTrueData = []byte("[true]")

// refuse answers a bad request with an error ack, or logs it at debug level
// when the client asked for no ack.
func (g *Gateway) refuse(s *session.Socket, ev *session.Event, reason string) {
	if ev.HasAck() {
		ev.Ack(ackError{Error: ev.Name + ": " + reason})
		return
	}
	if g.log.Enabled(context.Background(), slog.LevelDebug) {
		g.log.Debug("event ignored", "sid", s.ID(), "event", ev.Name, "reason", reason)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

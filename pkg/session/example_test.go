package session_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/pkg/session"
)

// A chat server: clients join rooms and their messages reach the members
// of their rooms, or everyone when they joined none.
func ExampleServer() {
	srv, err := session.NewServer(session.Config{ConnectTimeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	srv.OnConnection(func(s *session.Socket) {
		s.On("join", func(s *session.Socket, ev *session.Event) {
			var room string
			if err := ev.Decode(0, &room); err != nil || room == "" {
				ev.Ack(map[string]string{"error": "a room name is required"})
				return
			}
			s.Join(room)
			ev.Ack(true)
		})
		s.On("message", func(s *session.Socket, ev *session.Event) {
			// Relay the event as received: its bytes are not re-encoded.
			rooms := s.Rooms()[1:] // without the socket's own ID room
			if len(rooms) == 0 {
				srv.Sockets().EmitRaw(ev.Data, ev.Attachments)
			} else {
				srv.To(rooms...).EmitRaw(ev.Data, ev.Attachments)
			}
		})
		s.OnDisconnect(func(s *session.Socket, reason string) {
			log.Printf("%s left: %s", s.ID(), reason)
		})
	})
	http.Handle("/socket.io/", srv)
	// http.ListenAndServe(":3000", nil); then srv.Shutdown(ctx) on exit.
}

// Middleware refuses connections; the client's connect_error carries the
// message and the data.
func ExampleNamespace_Use() {
	srv, err := session.NewServer(session.Config{})
	if err != nil {
		log.Fatal(err)
	}
	admin := srv.Of("/admin")
	admin.Use(func(s *session.Socket) error {
		if s.Handshake().Query.Get("token") != "secret" {
			return &session.ConnectError{Message: "unauthorized", Data: map[string]int{"retryAfter": 60}}
		}
		return nil
	})
	admin.OnConnection(func(s *session.Socket) { s.Emit("welcome", "admin") })
}

// Broadcast operators are immutable values: deriving one never changes
// another.
func ExampleBroadcastOperator() {
	srv, err := session.NewServer(session.Config{})
	if err != nil {
		log.Fatal(err)
	}
	news := srv.To("news")
	news.Except("muted").Emit("headline", "Go 1.26 released")
	news.Emit("headline", "to every member of news, muted ones included")

	// Wait up to a second for every recipient's ack, on every node.
	acks, err := srv.To("voters").Timeout(time.Second).EmitWithAck(context.Background(), "vote?")
	var te interface{ Error() string }
	if errors.As(err, &te) {
		log.Printf("%d answers before the timeout: %v", len(acks), err)
	}
}

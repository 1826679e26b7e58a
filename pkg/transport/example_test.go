package transport_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// echo sends every message back to its connection.
type echo struct{}

func (echo) OnOpen(c *transport.Conn) {}

func (echo) OnMessage(c *transport.Conn, data []byte, binary bool) {
	f := engineio.Frame{Data: data, Binary: true}
	if !binary {
		f = engineio.TextFrame(engineio.PacketMessage, data)
	}
	_ = c.Send([]engineio.Frame{f}, false)
}

func (echo) OnClose(c *transport.Conn, reason string) {}

func ExampleServer() {
	srv, err := transport.NewServer(transport.Config{
		Handler:      echo{},
		PingInterval: 25 * time.Second,
		CORS:         transport.CORS{Origins: []string{"*"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
	go func() { _ = hs.ListenAndServe() }()

	// On SIGTERM: close the Engine.IO sessions (hijacked websockets are not
	// covered by http.Server.Shutdown), then the HTTP server.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = hs.Shutdown(ctx)
	// Output:
}

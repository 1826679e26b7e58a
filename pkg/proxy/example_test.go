package proxy_test

import (
	"context"
	"log"
	"net/http"

	"github.com/sockgate/sockgate/pkg/api"
	"github.com/sockgate/sockgate/pkg/jwtauth"
	"github.com/sockgate/sockgate/pkg/proxy"
	"github.com/sockgate/sockgate/pkg/session"
)

// A server whose clients need a JWT, whose backend decides who connects and
// what events do, and which the backend drives through the server API.
func Example() {
	srv, err := session.NewServer(session.Config{}) // InlineHandlers off: the event proxy waits
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := jwtauth.New(jwtauth.Config{Secret: []byte("change me")})
	if err != nil {
		log.Fatal(err)
	}
	backend, err := proxy.New(proxy.Config{
		ConnectURL: "http://127.0.0.1:4000/connect",
		EventURL:   "http://127.0.0.1:4000/event",
		Claims:     func(s *session.Socket) any { return jwtauth.Claims(s) },
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Use(verifier.Middleware) // first: the connect proxy gets the claims
	backend.Attach(srv.Sockets())
	apiHandler, err := api.New(api.Config{Server: srv, Token: "api secret"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/api/", apiHandler)
	_ = mux // http.ListenAndServe(":3000", mux)

	srv.Shutdown(context.Background())
	backend.Close(context.Background())
	// Output:
}

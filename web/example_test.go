package web_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sockgate/sockgate/pkg/session"
	"github.com/sockgate/sockgate/web"
)

// A Socket.IO server that also serves the official client bundle, as Node's
// socket.io does by default: a page loads /socket.io/socket.io.js from the
// server it connects to.
func ExampleBundle_Wrap() {
	srv, err := session.NewServer(session.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv.OnConnection(func(s *session.Socket) { s.Emit("hello", "world") })

	bundle := web.NewBundle("/socket.io/")
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", bundle.Wrap(srv)) // bundle files, then Engine.IO traffic
	// http.ListenAndServe(":3000", mux); then srv.Shutdown(ctx) on exit.

	ts := httptest.NewServer(mux)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/socket.io/socket.io.min.js")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), bundle.Version())
	// Output: 200 text/javascript; charset=utf-8 4.8.4
}

// Package web holds the browser side of the gateway, embedded in the binary:
// the official socket.io-client bundle (Bundle, served under /socket.io/) and
// the chat room demo (Demo, served at /).
//
// The bundle comes from npm: `go generate ./web` copies it from node_modules
// (installed by `npm ci` from the repository's pinned package-lock.json) into
// web/dist, which is embedded at build time and never committed. A binary
// built without it still works; the bundle paths then answer 503 and explain
// how to generate it.
//
// Handlers are safe for concurrent use.
package web

//go:generate go run ./internal/genbundle -out dist

// Package web holds the browser side of the gateway, embedded in the binary:
// the official socket.io-client bundle (Bundle, served under /socket.io/, as
// Node's socket.io does with its serveClient option) and the chat room demo
// (Demo, served at /).
//
// The bundle comes from npm: `go generate ./web` copies it from node_modules
// (installed by `npm ci` from the repository's pinned package-lock.json) into
// web/dist, which is committed and embedded at build time, so `go build` and
// `go install` need no npm. The test command fails when the committed files
// differ from what `go generate ./web` would write. Never edit them by hand.
//
// Programs built on pkg/session serve the same bundle with NewBundle and
// Bundle.Wrap around their Socket.IO handler.
//
// Handlers are safe for concurrent use.
package web

//go:generate go run ./internal/genbundle -out dist

// Package transport is an Engine.IO v4 server: sessions, the HTTP
// long-polling and WebSocket transports, the polling to WebSocket upgrade and
// the server-sent heartbeat (https://socket.io/docs/v4/engine-io-protocol/).
// With Config.AllowEIO3 it serves Engine.IO v3 clients too (socket.io-client
// 2.x): the same sessions with the v3 payload framing, binary message prefix
// and client-sent heartbeat (see eio3.go). Polling responses of 1 KiB or more
// are compressed when the request accepts gzip or deflate.
//
// A [Server] is an http.Handler; mount it where clients connect (for example
// /socket.io/). It dispatches on the query parameters EIO, transport and sid,
// not on the path. A request for a session the Server does not have is
// offered to [Config].Remote, if set (a cluster forwards it to the node
// owning the session), else refused. Each Engine.IO session is a [Conn]; the layer above gets
// its events through the [Handler] in [Config].
//
// Concurrency: all methods of Server and Conn may be called concurrently.
// Handler methods of one Conn are called serially: OnOpen first, then
// OnMessage in arrival order, then OnClose once.
//
// Writes never block the caller: each Conn has a byte-bounded queue and at
// most one writer at a time, which exists only while there is something to
// write. On a WebSocket, [Conn.Send] to an idle connection writes on the
// caller's goroutine with one non-blocking write(2) (Linux); [Conn.Enqueue],
// for broadcasts, hands the connection to a small pool of writer goroutines
// shared by the Server, which batch what accumulates per connection. Either
// way, what the socket does not take at once is finished by a writer
// goroutine of the connection's own, started on demand. Polling sessions
// are written by their pending GET. Heartbeats and timeouts use runtime
// timers, never a goroutine per connection. Every blocking write has a
// deadline.
//
// WebSocket framing (RFC 6455) is the package's own, on the frame-level API
// of github.com/gobwas/ws, with no extension negotiated: frames that break
// the RFC fail the connection with close code 1002, invalid UTF-8 with
// 1007, messages over Config.MaxPayload with 1009 (then the server ends its
// output and reads what the peer still sends until it closes, boundedly, as
// npm ws does); pings get pongs, a close from either side completes the
// close handshake, bounded in time, and a websocket whose heartbeat failed
// gets an empty close frame (as engine.io sends) if it can go out at once. test/conformance/websocket-framing.test.mjs
// compares all of it with npm ws, byte for byte.
//
// Idle WebSockets: on Linux, a quiet websocket has no goroutine and no
// buffer. Its reader goroutine exits once nothing it received waits to be
// handled, and the connection is parked in an epoll set of the Server's
// own, whose one goroutine starts a reader when bytes arrive; they are read
// into a pooled buffer taken only then. A busy client (two messages within
// a second) keeps its reader goroutine for a while instead. Elsewhere, over
// TLS, and in builds with the sockgate_portable tag (the standard library's
// net.Conn only), an idle websocket keeps one reader goroutine with a
// starting-size stack waiting in a blocking read into a 128-byte buffer, and
// websocket sends go through writer goroutines.
//
// Admission: a handshake or upgrade whose Origin header is not one of
// Config.AllowedOrigins gets 403; Config.MaxConnections and
// Config.HandshakeRate refuse handshakes with 503 and a JSON body. Bad input
// closes only its own connection and is logged once per connection at debug
// level and, sampled per kind, at info.
//
// Lock order: Conn.readMu (delivery) before Conn.mu; a shard's mutex is never
// held while taking Conn.mu.
package transport

// Package transport is an Engine.IO v4 server: sessions, the HTTP
// long-polling and WebSocket transports, the polling to WebSocket upgrade and
// the server-sent heartbeat (https://socket.io/docs/v4/engine-io-protocol/).
//
// A [Server] is an http.Handler; mount it where clients connect (for example
// /socket.io/). It dispatches on the query parameters EIO, transport and sid,
// not on the path. Each Engine.IO session is a [Conn]; the layer above gets
// its events through the [Handler] in [Config].
//
// Concurrency: all methods of Server and Conn may be called concurrently.
// Handler methods of one Conn are called serially: OnOpen first, then
// OnMessage in arrival order, then OnClose once.
//
// Writes never block the caller: each Conn has a byte-bounded queue and at
// most one writer, which runs only while there is something to write (a
// WebSocket writer goroutine started on demand, or the pending polling GET).
// Heartbeats and timeouts use runtime timers, never a goroutine per
// connection. An idle WebSocket session costs one goroutine (its reader).
//
// Lock order: Conn.readMu (delivery) before Conn.mu; a shard's mutex is never
// held while taking Conn.mu.
package transport

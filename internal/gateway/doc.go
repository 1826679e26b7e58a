// Package gateway is the composition root of the sockgate binary: it builds
// the adapter (in-memory, or Redis when a URL is given), the Socket.IO server
// with the built-in events, and the HTTP mux:
//
//	/socket.io/   Engine.IO / Socket.IO, and the socket.io-client bundle files
//	/             the chat room demo
//	/metrics      Prometheus metrics (the gateway's own registry)
//	/api/         the server API (package api) with an API token, else 404
//	/healthz      liveness: 200 while the process serves HTTP
//	/readyz       readiness (readiness.go): 200 unless draining, at
//	              MaxConnections (until below 95 % of it) or, with
//	              ReadyRequiresRedis, the adapter is degraded; ?verbose
//	              answers every condition as JSON
//
// Run serves until its context ends, then drains: readiness turns false and
// new Engine.IO handshakes get 503 at once while the listener and the
// existing sessions go on; after DrainDelay the connections are closed in
// paced steps, each flushing what is queued for it (so that clients
// reconnect elsewhere without a storm), and what is left is closed when the
// shutdown timeout ends. Then the listener closes. With connection state
// recovery on, the session layer stores the sessions of the sockets it
// closes before their transports close, so the drained clients recover on
// another node. Recovery with the classic or sharded Redis adapter is
// refused by New.
//
// With Config.Forward (-sticky=false), a forward.Node makes session ids name
// this node, registers it in Redis when Serve starts, forwards requests for
// other nodes' sessions to them and authenticates those forwarded here; it
// leaves the registry after the sessions are closed.
//
// The built-in events of the main namespace (see events.go) are the ones the
// README documents: join, leave, message and echo. backends.go connects an
// application backend: the server API, the connect, event and disconnect
// proxies (package proxy, with dynamic namespaces under a connect proxy),
// JWT authentication (package jwtauth) and the room policy of the built-in
// join, leave and message.
package gateway

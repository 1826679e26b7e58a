// Package session is the Socket.IO v5 server: namespaces, sockets, rooms,
// acks and broadcast operators, on top of the Engine.IO connections of
// package transport and the cluster of package adapter.
//
// Entry points: NewServer(Config) returns a *Server, an http.Handler to mount
// at /socket.io/. Server.Of (or Namespace) creates namespaces; clients can
// connect only to namespaces that exist ("Invalid namespace" otherwise), or
// that Server.DynamicNamespaces lets them create by connecting (removed
// again when their last socket has gone).
// Namespace.Use adds middleware, Namespace.OnConnection receives each
// connected *Socket, whose On/OnAny/OnDisconnect register handlers (and
// OnBorrowed/OnAnyBorrowed handlers that answer before they return and keep
// no Event, for which a received event allocates nothing); a
// middleware may give the socket a user (SetUser, reported by
// FetchSockets), data (SetData) and values for the handlers (SetValue). Payloads
// stay raw JSON (plus binary attachments) from the wire to the handlers and
// back, so relayed events keep their exact bytes.
//
// With Config.AllowEIO3, socket.io-client 2.x clients (Socket.IO protocol
// v4 over Engine.IO v3) connect too; their handshake differences are
// described in legacy.go.
//
// # Concurrency contract
//
// All exported methods may be called concurrently. The handlers of one
// socket (middleware, connection handlers, event handlers, disconnect
// handlers) run one at a time, in the order their packets arrived, on a
// goroutine that exists only while the socket has queued work: an idle
// socket costs no goroutine. (With Config.InlineHandlers, an event that finds
// nothing queued runs on the connection's read path instead.) ACK packets
// from the client are handled on the connection's read path, not queued, so
// a handler may block in Socket.EmitWithAck (unless handlers run inline). A
// client that queues more than Config.MaxPendingEvents events, or
// Config.MaxPendingBytes bytes of them, while its handlers are busy is
// disconnected. Config.EventRate drops a socket's packets over the rate and
// disconnects a socket that stays over it (ReasonRateLimited);
// Config.MaxAcks makes EmitWithAck fail fast (ErrTooManyAcks);
// Config.MaxNamespaces refuses a connection's extra namespaces. Bad input
// is logged once per connection at debug level and sampled at warn, so no
// client can flood the log. A panic in a handler is
// recovered, logged and counted; it disconnects that socket only.
// Server-side event handlers (OnServerSideEmit) run on goroutines of their
// own. Shutdown, as http.Server.Shutdown, waits until the handlers that are
// still running (socket and server-side ones) have returned, or until its
// context is done: then it returns the context's error, and those handlers
// run on to their end (their cluster operations fail: the adapters are
// closed).
//
// Sending never blocks: packets go to the connection's byte-bounded write
// queue (transport.Conn.Send; broadcasts use transport.Conn.Enqueue); a client that cannot keep up is disconnected
// by the transport, and volatile packets are dropped instead. A broadcast
// encodes its frames once and every recipient connection queues the same
// bytes.
//
// # Connection state recovery
//
// With Config.Recovery.MaxDisconnection set (and an adapter whose
// namespaces implement adapter.Recoverer), the server behaves as socket.io
// 4.6+ with connectionStateRecovery: CONNECT replies carry a pid, broadcasts
// that the adapter stores get their offset appended as a last argument, and
// a socket whose connection is lost (not a clean disconnect) has its
// session stored. A client that comes back in time with its pid and last
// offset gets the same ID, rooms and data, Socket.Recovered is true, the
// middleware is skipped (unless RunMiddlewares) and the missed broadcasts
// are sent right after CONNECT, before any live delivery. With
// PersistEager sessions are also stored while sockets live. Shutdown and
// CloseConnections store the sessions of the sockets they close before
// closing their transports (a drain hands its clients over). RecoveryStats
// counts attempts and outcomes.
//
// # Lock order
//
// Server.mu → client.mu → Socket.mu → the adapter's index locks
// (adapter.Rooms). Namespace.mu is taken alone, and so is the recovery
// hold lock of a restoring socket, the one lock held while calling a
// transport.Conn (Enqueue only; the close path never takes it). No other
// lock of this package is held while calling a transport.Conn (whose Close may run OnClose
// synchronously), user code, or an adapter operation that may call back
// into adapter.Local; the adapter's AddAll/Del/DelAll are called with
// Socket.mu held and must not call back.
package session

// Package proxy hands a Socket.IO server's decisions to an application
// backend over plain HTTP, in any language: who may connect (the connect
// proxy), what a client event does (the event proxy), and who left (the
// disconnect notification). Each is a JSON POST; the README section "Use it
// with your backend" documents the bodies and answers.
//
// Entry points: New(Config) returns a *Proxy. Proxy.Connect is a session
// middleware, Proxy.Event a session.EventHandler, Proxy.Disconnect an
// OnDisconnect hook; Proxy.Attach wires the configured ones onto a
// namespace. Close stops it.
//
// # Concurrency contract
//
// All methods may be called concurrently. Connect and Event block until the
// backend answers or Config.Timeout passes, and must run on the socket's
// handler goroutine (not with session.Config.InlineHandlers): since a
// socket's handlers run one at a time, one socket has at most one event at
// the backend, its later events wait in the session's bounded queue, and
// they reach the backend in order. Event answers before it returns and
// keeps nothing of the *session.Event, so it may be registered with
// OnBorrowed or OnAnyBorrowed too. At most Config.Concurrency requests are
// in flight at once, over reused keep-alive connections. A backend that
// fails (transport error, non-200 status, bad JSON, timeout) fails closed:
// the connection is refused with "backend unavailable", the event is acked
// {"error": "backend unavailable"} when the client asked for an ack.
//
// Disconnect never blocks: it queues the notification (a bounded queue,
// dropped and counted when full) for a few worker goroutines that POST it
// with bounded retries. Close waits for them.
package proxy

// Package redis is the Redis adapter of sockgate: it joins the namespaces of
// one node to a cluster of nodes that share a Redis server, wire-compatible
// with Node's @socket.io/redis-adapter 8.x (classic createAdapter, and
// createShardedAdapter with Sharded), @socket.io/redis-emitter 5.x, and
// @socket.io/redis-streams-adapter 0.3.x with Streams (the format whose
// namespaces support connection state recovery: see streams.go). The
// wire format is described in docs/redis-wire-format.md; comments cite
// its sections as "wire format §N".
//
// Entry points: New(Config) returns an *Adapter (adapter.Adapter and
// adapter.Health); NewClient builds a go-redis client from a redis:// or
// rediss:// URL (?cluster=true for Redis Cluster). Stats returns counters.
//
// How it works:
//
//   - Each namespace keeps this node's sockets in an adapter.Rooms index;
//     local delivery never waits for Redis.
//   - Publishing: a broadcast is encoded once and queued without blocking;
//     one goroutine sends the queue as pipelines, in order. When the queue is
//     full (Redis slow or down) messages are dropped and counted.
//   - Subscribing: one connection (per Redis Cluster slot in use in sharded
//     mode, closed with its last channel)
//     read by one goroutine; go-redis reconnects and resubscribes, the
//     adapter backs off and reports itself degraded meanwhile (Health).
//   - Event arguments stay raw JSON with binary placeholders in the session
//     layer; they are transcoded to and from notepack-style MessagePack
//     (pkg/protocol/msgpack), binary attachments becoming msgpack bin. The
//     JSON is read with socketio.Scanner, and which objects are placeholders
//     is socketio.Placeholder's rule (socket.io-parser's), so recipients on
//     other nodes read a payload as those on the sender's node do.
//   - Classic requests (fetchSockets, allRooms, serverSideEmit, broadcast
//     with acks, remote join/leave/disconnect) follow Node's counting: N =
//     PUBSUB NUMSUB of the request channel, N−1 replies; a timeout returns the
//     partial result and an *adapter.TimeoutError. SocketsJoin, SocketsLeave
//     and DisconnectSockets act on local sockets at once and skip their echo.
//   - Streams: broadcasts and remote join/leave/disconnect are XADDed to
//     the namespace's stream through the same publish queue; one goroutine
//     per stream reads it with XREAD (on a client of its own, closed by
//     Close). With recovery enabled, a broadcast is delivered here once its
//     XADD returned, with the entry ID appended as its offset, and sessions
//     are stored under SessionKeyPrefix<pid>.
//   - Bad input on any channel is counted and logged once per channel and
//     reason, never panics and never blocks the subscriber.
//
// All methods may be called concurrently. Close waits for every goroutine of
// the adapter.
package redis

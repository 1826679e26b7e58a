// Package forward lets every node of a cluster serve every Engine.IO
// request, so that a load balancer needs no sticky sessions: a node that
// gets a request for a session owned by another node forwards it there,
// and the client never notices.
//
// How a request finds its session's owner:
//
//   - Each [Node] has a random id, and the session ids it issues start with
//     it ([Node.SessionIDPrefix] is transport.Config.SessionIDPrefix).
//   - Each node registers its id and the address other nodes reach it at
//     in Redis, under "<Key>#sockgate#node#<id>", with a TTL that a
//     heartbeat refreshes; [Node.Close] removes the entry. Lookups are
//     cached for a third of the TTL.
//   - A request whose sid the local transport does not know reaches
//     [Node.Remote] (transport.Config.Remote), which proxies it to the
//     owner with net/http/httputil.ReverseProxy: polling GETs and POSTs,
//     and websocket upgrades, whose connection the proxy then relays for
//     as long as it lasts.
//   - The owner verifies forwarded requests in [Node.Handler]: each carries
//     an HMAC-SHA256, keyed by the cluster's shared secret, over the method,
//     path and query, Host, a timestamp, the client's address and the body.
//     A request with a missing or wrong signature, or one older or newer than
//     MaxClockSkew, is refused 403; an authenticated one is served with the
//     client's address as its RemoteAddr, so the handshake data and logs of
//     the owner show the client, not the forwarding node. A forwarded request
//     is never forwarded again.
//
// When the owner is gone (not registered, or registered but unreachable),
// the client gets what a node answers for an unknown session: 400
// "Session ID unknown"; socket.io clients then reconnect.
//
// The signature makes forwarded requests unforgeable by anyone without the
// secret, but the node-to-node traffic is plain HTTP: someone who can read
// it sees the sessions' traffic, and could replay a forwarded request
// within MaxClockSkew. Keep it on a private network.
//
// Concurrency: every method of Node may be called concurrently. Node owns
// its heartbeat goroutine and waits for it, and for the requests it is
// forwarding, in Close.
package forward

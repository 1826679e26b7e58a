// Package adapter is the contract between the Socket.IO server (package
// session) and the cluster it is part of, with its single-node
// implementation.
//
// An Adapter gives each namespace a Namespace: the room index of this
// node's sockets (AddAll, Del, DelAll, SocketRooms) and the operations that
// act on the selected sockets of every node (Broadcast, BroadcastWithAck,
// SocketsJoin, SocketsLeave, DisconnectSockets, FetchSockets,
// ServerSideEmit). The session layer implements Local, the node-local side
// that an adapter calls to deliver packets to, describe or disconnect this
// node's sockets, for local calls and for other nodes' requests alike.
//
// Entry points: NewMemory returns the in-memory adapter (a cluster of one);
// Rooms is the room index every adapter keeps for its own sockets; package
// adapter/redis joins nodes through Redis. Optional interfaces: Health (an
// adapter that can be degraded) and Recoverer (namespaces that keep the
// history and sessions of connection state recovery); the helpers
// WithOffset, LastOffset, Stored and ShouldReplay implement its rules for
// adapters. Package adaptertest is the conformance suite each adapter runs.
//
// Options select recipients: every socket of the namespace, or the union
// of Rooms, minus the members of Except. A cluster request that times out
// returns what arrived and a *TimeoutError; an operation on a closed
// adapter fails with ErrClosed.
package adapter

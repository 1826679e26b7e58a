// Package engineio is the Engine.IO v4 wire codec: packet types, the text
// encoding of one packet, the HTTP long-polling payload (packets joined by the
// record separator 0x1e, binary packets as "b" + base64), and the open packet;
// and the Engine.IO v3 payload and binary packet forms of socket.io-client
// 2.x ([AppendPayloadV3], [DecodePayloadV3], [DecodePacketV3]).
//
// It does no I/O and keeps no state. Decoders never panic on hostile input and
// avoid copying: a decoded text packet's Data aliases the input.
//
// Entry points: [DecodePacket] for a WebSocket message, [DecodePayload] and
// [AppendPayload] for polling bodies, [Open] for the handshake packet, and
// [Frame] for pre-encoded packets shared by every recipient of a broadcast.
//
// Spec: https://socket.io/docs/v4/engine-io-protocol/ (revision 4).
//
// All functions may be called concurrently.
package engineio

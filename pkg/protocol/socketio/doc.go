// Package socketio is the Socket.IO protocol v5 packet codec: pure, stdlib
// only, no I/O.
//
// A Packet is encoded with Packet.Append into the text format of the
// protocol's "Packet encoding" section,
//
//	<type>[<attachments>-][<namespace>,][<id>][<json data>]
//
// and the attachments of a BINARY_EVENT or BINARY_ACK travel as separate
// binary messages after it. A Decoder, one per connection, turns text
// messages (Decode) and binary messages (AddAttachment) back into packets,
// reassembling binary packets; DecodeInto decodes into the caller's Packet
// and DecodeElements also hands over the elements of an event's data, found
// while validating, so that a server's hot path allocates nothing.
//
// Payloads are never unmarshalled into Go values on the way through: Data
// keeps the exact JSON bytes received (key order, number precision such as
// 9007199254740993, escapes), and binary packets keep their placeholders
// ({"_placeholder":true,"num":N}) with the attachments alongside. The Decoder
// validates the JSON once with the package's iterative Scanner (bounded
// nesting, valid UTF-8, nothing after the value) and checks each packet
// type's payload as socket.io-parser does, so hostile input gives an error
// wrapping ErrInvalidPacket and never a panic or a deep recursion.
//
// Which objects are placeholders is decided in one place, with
// socket.io-parser 4.2's rule: an object whose "_placeholder" member is
// exactly true (keys compared unescaped, the last duplicate winning, other
// members ignored). Placeholder applies it to one value, and a Scanner
// Reset with placeholders set reports it on each object it reads, so
// every layer that walks payloads (the Decoder, Attachment, the Redis
// adapter's transcoder) agrees with the Node parser and with each other.
//
// Helpers work on raw JSON: SplitArray, SplitEvent and EventName read event
// and ack data (SplitEventTo and RawEventName into reused memory); Attachment resolves a placeholder element; AppendEvent,
// AppendArray, AppendString, AppendPlaceholder and AppendErrorData build data
// without intermediate allocations; MarshalArgs turns Go values into elements
// and attachments.
//
// A Decoder is not safe for concurrent use; everything else in the package is
// stateless and may be called concurrently.
package socketio

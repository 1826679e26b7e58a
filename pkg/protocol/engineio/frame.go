package engineio

// Frame is one pre-encoded Engine.IO packet, ready for any transport.
//
// For a text packet, Data is the packet type digit followed by its payload:
// exactly what a WebSocket text frame carries and what a polling payload
// joins with the record separator. For a binary packet (Binary true), Data is
// the raw payload: a WebSocket binary frame, or "b"+base64(Data) in a polling
// payload (Engine.IO v4 sends binary only in message packets).
//
// A Frame is immutable once built, so one broadcast encodes its frames once and
// every recipient's connection writes the same bytes.
type Frame struct {
	Data   []byte
	Binary bool
}

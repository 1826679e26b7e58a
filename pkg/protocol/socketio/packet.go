package socketio

// Type is a Socket.IO packet type (protocol v5, section "Packet types").
type Type uint8

// Packet types.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// Packet is one decoded Socket.IO packet.
//
// Data holds the packet's JSON payload exactly as it was received (or is to be
// sent): an array for events and acks, an object for CONNECT and CONNECT_ERROR,
// nil when absent. Binary packets keep their placeholders
// ({"_placeholder":true,"num":N}) in Data and carry the attachments, in order,
// in Attachments. Nothing is re-encoded on the way through, so relayed payloads
// keep their exact bytes.
type Packet struct {
	Type        Type
	Namespace   string // "/" when the packet names none
	ID          uint64 // ack id; valid when HasID
	HasID       bool
	Data        []byte
	Attachments [][]byte
}

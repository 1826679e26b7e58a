package session

import "errors"

// Errors of the session layer.
var (
	// ErrDisconnected is returned by operations on a disconnected socket,
	// and by EmitWithAck when the socket disconnects before its ack.
	ErrDisconnected = errors.New("session: socket disconnected")
	// ErrReservedEvent is returned when emitting an event name that the
	// client library reserves for itself.
	ErrReservedEvent = errors.New("session: reserved event name")
	// ErrNoAck is returned by Event.Ack when the client asked for no ack.
	ErrNoAck = errors.New("session: the event has no ack")
	// ErrAcked is returned by Event.Ack when the event was acked already.
	ErrAcked = errors.New("session: the event was acked already")
	// ErrTooManyAcks is returned by EmitWithAck when the socket already
	// waits for Config.MaxAcks acks.
	ErrTooManyAcks = errors.New("session: too many acks in flight")
	// ErrServerClosed is returned after Shutdown.
	ErrServerClosed = errors.New("session: server closed")
)

// ConnectError is the error a middleware returns to refuse a connection
// with data for the client: the client's connect_error event gets an Error
// whose message is Message and whose data is Data (marshaled as JSON).
// Any other error refuses the connection with its Error() as the message.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// isReserved reports the event names socket.io forbids emitting (its
// RESERVED_EVENTS).
func isReserved(event string) bool {
	switch event {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// Disconnect reasons, as socket.io v4 reports them.
const (
	ReasonServerDisconnect   = "server namespace disconnect"
	ReasonClientDisconnect   = "client namespace disconnect"
	ReasonServerShuttingDown = "server shutting down"
	ReasonPingTimeout        = "ping timeout"
	ReasonTransportClose     = "transport close"
	ReasonTransportError     = "transport error"
	ReasonParseError         = "parse error"
	ReasonForcedClose        = "forced close"
	ReasonForcedServerClose  = "forced server close"
	// ReasonRateLimited: the client kept sending over Config.EventRate; the
	// client gets a DISCONNECT ("io server disconnect").
	ReasonRateLimited = "rate limited"
)

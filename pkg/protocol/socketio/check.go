package socketio

// CheckPayload validates data, the JSON of a packet of type t that carries
// attachments binary attachments, as Decode validates the same packet from
// a client: valid JSON nested at most l.MaxDepth deep, at most
// l.MaxAttachments attachments, placeholders that number existing
// attachments (even when there are none), and for events a name that is
// not reserved. It is for payloads that reach the server by another way
// than a client's connection (an HTTP API, a backend's answer).
func CheckPayload(t Type, data []byte, attachments int, l Limits) error {
	if attachments < 0 || attachments > l.maxAttachments() {
		return invalid("more than %d attachments", l.maxAttachments())
	}
	// Placeholders are checked even without attachments: an HTTP caller
	// that writes one means an attachment it forgot.
	if err := scanJSON(data, l.maxDepth(), attachments); err != nil {
		return err
	}
	return checkPayload(t, trimSpace(data))
}

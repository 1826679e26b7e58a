package socketio

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SplitArray returns the raw top-level elements of a JSON array (sub-slices
// of data, no copy). data must already be valid JSON (Decoder validates).
//
// Malformed input gives an error, never a panic, but SplitArray does not
// validate the elements themselves.
func SplitArray(data []byte) ([][]byte, error) {
	return AppendElements(make([][]byte, 0, 8), data)
}

// AppendElements is SplitArray appending to dst, so that a caller can reuse
// the slice of elements across packets.
func AppendElements(dst [][]byte, data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return dst, invalid("not a JSON array")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return dst, checkEnd(data, i+1)
	}
	for {
		end, err := skipValue(data, i)
		if err != nil {
			return dst, err
		}
		dst = append(dst, data[i:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return dst, jsonError(i, "unterminated array")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return dst, checkEnd(data, i+1)
		default:
			return dst, jsonError(i, "unexpected %q in array", data[i])
		}
	}
}

func checkEnd(data []byte, i int) error {
	if i = skipSpace(data, i); i != len(data) {
		return jsonError(i, "unexpected %q after the array", data[i])
	}
	return nil
}

// EventName returns the name of an event from its data, the first element
// of the array. A string name is unescaped; a number (the protocol allows
// numeric names) is returned as its JSON text.
func EventName(data []byte) (string, error) {
	raw, err := firstElement(data)
	if err != nil {
		return "", err
	}
	return nameOf(raw)
}

// SplitEvent splits an event's data into its name (as EventName returns it)
// and its raw arguments, which are sub-slices of data.
func SplitEvent(data []byte) (name string, args [][]byte, err error) {
	elems, err := SplitArray(data)
	if err != nil {
		return "", nil, err
	}
	if len(elems) == 0 {
		return "", nil, invalid("event data is an empty array")
	}
	name, err = nameOf(elems[0])
	if err != nil {
		return "", nil, err
	}
	return name, elems[1:], nil
}

// SplitEventTo is SplitEvent for a caller that reuses memory across
// packets: the elements of data are appended to dst, and the name is left as
// its raw element (a JSON string with its quotes, or a number), which
// RawEventName converts; args is the rest of the returned slice. Nothing is
// allocated when dst has room for every element.
func SplitEventTo(dst [][]byte, data []byte) (rawName []byte, args [][]byte, err error) {
	start := len(dst)
	elems, err := AppendElements(dst, data)
	if err != nil {
		return nil, nil, err
	}
	if len(elems) == start {
		return nil, nil, invalid("event data is an empty array")
	}
	rawName = elems[start]
	if c := rawName[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
		return nil, nil, invalid("event name must be a string or a number")
	}
	return rawName, elems[start+1:], nil
}

// RawEventName returns the event name that raw, the first element of an
// event's data (as SplitEventTo returns it), stands for: a string unescaped,
// a number as its JSON text.
func RawEventName(raw []byte) (string, error) {
	if len(raw) == 0 {
		return "", invalid("empty event name")
	}
	return nameOf(raw)
}

func firstElement(data []byte) ([]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, invalid("event data is not an array")
	}
	i = skipSpace(data, i+1)
	if i >= len(data) || data[i] == ']' {
		return nil, invalid("event data is an empty array")
	}
	end, err := skipValue(data, i)
	if err != nil {
		return nil, err
	}
	return data[i:end], nil
}

func nameOf(raw []byte) (string, error) {
	switch c := raw[0]; {
	case c == '"':
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return "", invalid("malformed event name")
		}
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') < 0 {
			return string(s), nil
		}
		return string(AppendUnquoted(make([]byte, 0, len(s)), s)), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw), nil
	}
	return "", invalid("event name must be a string or a number")
}

// Attachment resolves elem, a raw JSON element of a binary packet's data, to
// its attachment: when elem is a placeholder as Placeholder reads it (its
// "_placeholder" is exactly true, socket.io-parser's rule) whose num indexes
// atts it returns atts[num] and true, otherwise nil and false.
func Attachment(elem []byte, atts [][]byte) ([]byte, bool) {
	num, ok := Placeholder(elem)
	if !ok || num < 0 || num >= len(atts) {
		return nil, false
	}
	return atts[num], true
}

// MarshalArgs encodes Go values as the JSON elements of an event or ack.
// []byte values (top level) become binary attachments with placeholders,
// json.RawMessage is used as is, anything else goes through encoding/json.
// It returns the raw elements and the attachments, numbered from start.
//
// encoding/json runs without HTML escaping, like JSON.stringify. A []byte
// nested inside another value is not an attachment (encoding/json writes it
// as base64). A json.RawMessage must be valid JSON: it is not checked.
func MarshalArgs(args []any, start int) (elems [][]byte, attachments [][]byte, err error) {
	elems = make([][]byte, 0, len(args))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, a := range args {
		switch v := a.(type) {
		case json.RawMessage:
			if len(v) == 0 {
				return nil, nil, fmt.Errorf("socketio: argument %d: empty json.RawMessage", i)
			}
			elems = append(elems, v)
		case []byte:
			elems = append(elems, AppendPlaceholder(nil, start+len(attachments)))
			attachments = append(attachments, v)
		default:
			buf.Reset()
			if err := enc.Encode(a); err != nil {
				return nil, nil, fmt.Errorf("socketio: argument %d: %w", i, err)
			}
			elems = append(elems, bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})))
		}
	}
	return elems, attachments, nil
}

package redis

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Request and response shapes shared by both formats, as JSON.

// roomList is a list of rooms; Node may send numeric rooms, which we keep as
// their decimal text. It always marshals as an array, never null.
type roomList []string

func (l roomList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(l))
}

func (l *roomList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		out = append(out, roomName(r))
	}
	*l = out
	return nil
}

// roomName is the room a JSON value names: a string's text, or a number's.
func roomName(r json.RawMessage) string {
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s
	}
	return strings.TrimSpace(string(r))
}

// wireOpts is {rooms, except[, flags]}.
type wireOpts struct {
	Rooms  roomList       `json:"rooms"`
	Except roomList       `json:"except"`
	Flags  *wireFlagsJSON `json:"flags,omitempty"`
}

type wireFlagsJSON struct {
	Volatile bool `json:"volatile,omitempty"`
	// Timeout is the requester's ack timeout in ms (a JSON number, so
	// float: a fractional value must not fail the whole request).
	Timeout float64 `json:"timeout,omitempty"`
}

func toWireOpts(o adapter.Options) *wireOpts {
	return &wireOpts{Rooms: roomList(o.Rooms), Except: roomList(o.Except)}
}

// maxAckTimeout caps a requester's flags.timeout; larger values (or
// hostile ones) fall back to RequestsTimeout.
const maxAckTimeout = 24 * time.Hour

func (w *wireOpts) options() adapter.Options {
	if w == nil {
		return adapter.Options{}
	}
	o := adapter.Options{Rooms: w.Rooms, Except: w.Except}
	if w.Flags != nil {
		o.Flags.Volatile = w.Flags.Volatile
		// A responder of a broadcast with acks forwards acks as long as the
		// requester waits (ackContext falls back to RequestsTimeout).
		if ms := w.Flags.Timeout; ms > 0 && ms < float64(maxAckTimeout/time.Millisecond) {
			o.Flags.Timeout = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return o
}

// marshalJSON is json.Marshal without HTML escaping, as JSON.stringify writes.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// wireSocket is a FetchSockets entry as any node sends it; Node's headers
// and query values may be arrays, which are joined with ", ".
type wireSocket struct {
	ID        string          `json:"id"`
	Handshake wireHandshake   `json:"handshake"`
	Rooms     roomList        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	User      json.RawMessage `json:"user"` // a sockgate extension; never sent by Node
}

type wireHandshake struct {
	Headers map[string]json.RawMessage `json:"headers"`
	Time    json.RawMessage            `json:"time"`
	Address string                     `json:"address"`
	XDomain bool                       `json:"xdomain"`
	Secure  bool                       `json:"secure"`
	Issued  float64                    `json:"issued"`
	URL     string                     `json:"url"`
	Query   map[string]json.RawMessage `json:"query"`
	Auth    json.RawMessage            `json:"auth"`
}

func flatten(m map[string]json.RawMessage) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		var list []string
		if json.Unmarshal(v, &list) == nil {
			out[k] = strings.Join(list, ", ")
			continue
		}
		out[k] = string(v)
	}
	return out
}

func (w *wireSocket) info() adapter.SocketInfo {
	h := w.Handshake
	info := adapter.SocketInfo{
		ID:    w.ID,
		Rooms: []string(w.Rooms),
		Data:  append(json.RawMessage(nil), w.Data...),
		Handshake: adapter.Handshake{
			Headers: flatten(h.Headers),
			Time:    roomName(h.Time),
			Address: h.Address,
			XDomain: h.XDomain,
			Secure:  h.Secure,
			Issued:  int64(h.Issued),
			URL:     h.URL,
			Query:   flatten(h.Query),
			Auth:    append(json.RawMessage(nil), h.Auth...),
		},
	}
	if len(info.Data) == 0 {
		info.Data = json.RawMessage("null")
	}
	json.Unmarshal(w.User, &info.User) // anything but a string leaves it empty
	return info
}

func decodeSockets(raw json.RawMessage) ([]adapter.SocketInfo, error) {
	var list []wireSocket
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := make([]adapter.SocketInfo, 0, len(list))
	for i := range list {
		out = append(out, list[i].info())
	}
	return out, nil
}

// encodeSockets writes socket infos as Node does (rooms never null, data
// and auth null when unset).
func encodeSockets(infos []adapter.SocketInfo) []adapter.SocketInfo {
	out := make([]adapter.SocketInfo, len(infos))
	for i, s := range infos {
		if s.Rooms == nil {
			s.Rooms = []string{}
		}
		if len(s.Data) == 0 {
			s.Data = json.RawMessage("null")
		}
		if len(s.Handshake.Auth) == 0 {
			s.Handshake.Auth = json.RawMessage("{}")
		}
		if s.Handshake.Headers == nil {
			s.Handshake.Headers = map[string]string{}
		}
		if s.Handshake.Query == nil {
			s.Handshake.Query = map[string]string{}
		}
		out[i] = s
	}
	return out
}

// msgpackToJSONDoc transcodes a whole msgpack document (a request or
// response) to JSON so that it can be read like the JSON ones.
func msgpackToJSONDoc(payload []byte) ([]byte, [][]byte, error) {
	var atts [][]byte
	r := msgpack.NewReader(payload)
	out, err := msgpackToJSON(make([]byte, 0, len(payload)*2), r, &atts)
	if err != nil {
		return nil, nil, err
	}
	return out, atts, nil
}

// appendRooms appends a msgpack array of room names.
func appendRooms(b []byte, rooms []string) []byte {
	b = msgpack.AppendArrayHeader(b, len(rooms))
	for _, r := range rooms {
		b = msgpack.AppendString(b, r)
	}
	return b
}

// appendMsgpackOpts appends {rooms, except, flags} in the order Node writes
// them; flags has volatile and timeout (ms) when set.
func appendMsgpackOpts(b []byte, o adapter.Options) []byte {
	b = msgpack.AppendMapHeader(b, 3)
	b = msgpack.AppendString(b, "rooms")
	b = appendRooms(b, o.Rooms)
	b = msgpack.AppendString(b, "except")
	b = appendRooms(b, o.Except)
	b = msgpack.AppendString(b, "flags")
	nf := 0
	if o.Flags.Volatile {
		nf++
	}
	if o.Flags.Timeout > 0 {
		nf++
	}
	b = msgpack.AppendMapHeader(b, nf)
	if o.Flags.Volatile {
		b = msgpack.AppendString(b, "volatile")
		b = msgpack.AppendBool(b, true)
	}
	if o.Flags.Timeout > 0 {
		b = msgpack.AppendString(b, "timeout")
		b = msgpack.AppendInt(b, o.Flags.Timeout.Milliseconds())
	}
	return b
}

func appendJSONOpts(b []byte, o adapter.Options) []byte {
	b = append(b, `{"rooms":`...)
	b = appendJSONRooms(b, o.Rooms)
	b = append(b, `,"except":`...)
	b = appendJSONRooms(b, o.Except)
	b = append(b, `,"flags":{`...)
	comma := false
	if o.Flags.Volatile {
		b = append(b, `"volatile":true`...)
		comma = true
	}
	if o.Flags.Timeout > 0 {
		if comma {
			b = append(b, ',')
		}
		b = append(b, `"timeout":`...)
		b = strconv.AppendInt(b, o.Flags.Timeout.Milliseconds(), 10)
	}
	return append(b, "}}"...)
}

func appendJSONRooms(b []byte, rooms []string) []byte {
	b = append(b, '[')
	for i, r := range rooms {
		if i > 0 {
			b = append(b, ',')
		}
		b = socketio.AppendString(b, r)
	}
	return append(b, ']')
}

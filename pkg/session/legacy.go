package session

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// Legacy clients: socket.io-client 2.x speaks Socket.IO protocol v4 over
// Engine.IO v3 (Config.AllowEIO3). Its packets are encoded as ours; what
// differs is the connect handshake, handled as Node's socket.io does:
//
//   - the client is connected to the main namespace as soon as its
//     Engine.IO session opens, without sending CONNECT;
//   - a CONNECT to another namespace carries no payload: its query
//     ("/admin?token=abc") becomes the socket's auth, as an object of
//     strings (arrays for repeated keys);
//   - the server's CONNECT carries no payload either: the client names its
//     sockets itself, "/" for the main namespace's socket the Engine.IO id
//     and "<namespace>#<Engine.IO id>" for the others, and so the server's
//     socket ids follow that rule;
//   - a CONNECT_ERROR from a middleware carries the error's data, or its
//     message as a JSON string when it has no data.

// legacy reports whether the client speaks Socket.IO protocol v4.
func (c *client) legacy() bool { return c.conn.Protocol() == 3 }

// legacyConnect returns the namespace, auth and socket id of a legacy
// client's CONNECT to nsp (which may carry a query).
func (c *client) legacyConnect(nsp string) (name string, auth json.RawMessage, id string) {
	name, rawQuery, _ := strings.Cut(nsp, "?")
	if rawQuery != "" {
		q, _ := url.ParseQuery(rawQuery)
		obj := make(map[string]any, len(q))
		for k, vs := range q {
			if len(vs) == 1 {
				obj[k] = vs[0]
			} else {
				obj[k] = vs
			}
		}
		auth, _ = json.Marshal(obj)
	}
	id = c.conn.ID()
	if name != "/" {
		id = name + "#" + id
	}
	return name, auth, id
}

// sendLegacyConnectError sends the CONNECT_ERROR of protocol v4: the
// error's data, else (or when the data does not marshal) its message.
func (c *client) sendLegacyConnectError(nsp, message string, data any) {
	var b []byte
	if data != nil {
		b, _ = json.Marshal(data)
	}
	if b == nil {
		b, _ = json.Marshal(message)
	}
	c.srv.stats.packetsOut.Add(1)
	c.conn.Send(encodeFrames(&socketio.Packet{Type: socketio.ConnectError, Namespace: nsp, Data: b}), false)
}

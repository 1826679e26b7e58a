package transport

import (
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// Engine.IO v3 sessions (Config.AllowEIO3), for socket.io-client 2.x. The
// session machinery is the same as v4's; what differs is confined to the
// functions below:
//
//   - heartbeat: the client pings and the server answers with a pong; a
//     session that has not pinged for PingInterval + PingTimeout is closed
//     with "ping timeout", and a pong from the client is an error;
//   - polling bodies use the v3 payload framing (engineio.AppendPayloadV3,
//     engineio.DecodePayloadV3), binary ones as application/octet-stream;
//   - a binary WebSocket message starts with the packet type byte;
//   - with "b64" in the handshake query, binary messages go to the client
//     as base64 text ("b4...") on either transport.

// setProtocol records the protocol revision of the handshake request.
func (c *Conn) setProtocol(req *Request) {
	if !c.srv.cfg.AllowEIO3 {
		return
	}
	q := req.Query()
	if q.Get("EIO") == "3" {
		c.eio3 = true
		c.b64 = q.Get("b64") != ""
	}
}

// Protocol returns the connection's Engine.IO protocol revision: 4, or 3
// for a v3 client accepted through Config.AllowEIO3.
func (c *Conn) Protocol() int {
	if c.eio3 {
		return 3
	}
	return 4
}

// firstTimer is when the session timer first fires: the first ping (v4),
// or the deadline for the client's first ping (v3).
func (c *Conn) firstTimer() time.Duration {
	if c.eio3 {
		return c.srv.cfg.PingInterval + c.srv.cfg.PingTimeout
	}
	return c.srv.cfg.PingInterval
}

// onPingV3 answers a v3 client's ping with a pong carrying the same data
// and restarts the wait for the next ping.
func (c *Conn) onPingV3(data []byte) {
	s := c.srv
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	c.armLocked(s.cfg.PingInterval + s.cfg.PingTimeout)
	c.pushLocked(engineio.TextFrame(engineio.PacketPong, data))
}

// appendPayload appends the polling response body for frames and returns
// it with its Content-Type.
func (c *Conn) appendPayload(dst []byte, frames []engineio.Frame) ([]byte, string) {
	const text = "text/plain; charset=UTF-8"
	if !c.eio3 {
		return engineio.AppendPayload(dst, frames), text
	}
	body, binary := engineio.AppendPayloadV3(dst, frames, !c.b64)
	if binary {
		return body, "application/octet-stream"
	}
	return body, text
}

// decodePayload hands the packets of a polling POST body to onPacket;
// binary is true for an application/octet-stream body (v3 only).
func (c *Conn) decodePayload(body []byte, binary bool) error {
	if c.eio3 {
		return engineio.DecodePayloadV3(body, binary, c.onPacket)
	}
	return engineio.DecodePayload(body, c.onPacket)
}

// decodeWSPacket decodes one WebSocket message.
func (c *Conn) decodeWSPacket(data []byte, binary bool) (engineio.Packet, error) {
	if c.eio3 {
		return engineio.DecodePacketV3(data, binary)
	}
	return engineio.DecodePacket(data, binary)
}

// wsFrames returns frames as the connection's websocket carries them: as
// they are for v4; for v3, binary messages get their type byte (or become
// base64 text for a b64 client). The frames given are shared with other
// recipients and are not modified.
func (c *Conn) wsFrames(frames []engineio.Frame) []engineio.Frame {
	if !c.eio3 {
		return frames
	}
	var out []engineio.Frame
	for i, f := range frames {
		if !f.Binary {
			if out != nil {
				out = append(out, f)
			}
			continue
		}
		if out == nil {
			out = append(make([]engineio.Frame, 0, len(frames)), frames[:i]...)
		}
		if c.b64 {
			out = append(out, engineio.Frame{Data: engineio.AppendBase64MessageV3(nil, f.Data)})
		} else {
			data := engineio.AppendBinaryMessageV3(make([]byte, 0, 1+len(f.Data)), f.Data)
			out = append(out, engineio.Frame{Data: data, Binary: true})
		}
	}
	if out == nil {
		return frames
	}
	return out
}

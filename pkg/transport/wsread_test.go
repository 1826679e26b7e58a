package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// chunkConn is a net.Conn whose reads return chunks in turn, then EOF;
// writes are kept.
type chunkConn struct {
	net.Conn // nil: only the methods below are used
	chunks   [][]byte
	written  bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *chunkConn) Close() error                     { return nil }
func (c *chunkConn) SetDeadline(time.Time) error      { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// frameReader is a wsConn over chunks, read the portable way (no file
// descriptor).
func frameReader(chunks ...[]byte) (*wsConn, *chunkConn) {
	nc := &chunkConn{chunks: chunks}
	t := &wsConn{nc: nc}
	t.out.nc = nc
	t.out.timeout = time.Second
	return t, nc
}

// readAll reads messages until an error.
func readAll(t *wsConn, limit int) (msgs []string, err error) {
	for {
		msg, _, ok, err := t.nextMessage(limit)
		if err != nil {
			return msgs, err
		}
		if !ok {
			if err := t.fill(true); err != nil {
				return msgs, err
			}
			continue
		}
		msgs = append(msgs, string(msg))
	}
}

// frame encodes a client frame: masked unless mask is false.
func frame(fin bool, rsv byte, op ws.OpCode, payload string, masked bool) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(payload)), Masked: masked, Mask: [4]byte{7, 1, 9, 3}}
	p := []byte(payload)
	if masked {
		ws.Cipher(p, h.Mask, 0)
	}
	_ = ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

func text(s string) []byte { return frame(true, 0, ws.OpText, s, true) }

func closeBody(code ws.StatusCode, reason string) string {
	return string(ws.NewCloseFrameBody(code, reason))
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// serverFrames decodes what the server wrote.
func serverFrames(t *testing.T, b []byte) []ws.Frame {
	t.Helper()
	var out []ws.Frame
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.Masked {
			t.Fatal("server frame masked")
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		out = append(out, ws.Frame{Header: h, Payload: p})
	}
	return out
}

func TestFrameReaderFailures(t *testing.T) {
	long := string(bytes.Repeat([]byte("a"), 126))
	for _, tc := range []struct {
		name  string
		input []byte
		code  ws.StatusCode
	}{
		{name: "unmasked", input: frame(true, 0, ws.OpText, "4a", false), code: ws.StatusProtocolError},
		{name: "rsv1 (no deflate negotiated)", input: frame(true, 4, ws.OpText, "4a", true), code: ws.StatusProtocolError},
		{name: "rsv3", input: frame(true, 1, ws.OpBinary, "a", true), code: ws.StatusProtocolError},
		{name: "reserved data opcode", input: frame(true, 0, 3, "4a", true), code: ws.StatusProtocolError},
		{name: "reserved control opcode", input: frame(true, 0, 0xb, "", true), code: ws.StatusProtocolError},
		{name: "long ping", input: frame(true, 0, ws.OpPing, long, true), code: ws.StatusProtocolError},
		{name: "fragmented ping", input: frame(false, 0, ws.OpPing, "x", true), code: ws.StatusProtocolError},
		{name: "continuation first", input: frame(true, 0, ws.OpContinuation, "4a", true), code: ws.StatusProtocolError},
		{name: "text inside a fragmented message", input: cat(frame(false, 0, ws.OpText, "4a", true), text("4b")), code: ws.StatusProtocolError},
		{name: "length with its top bit set", input: []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, code: ws.StatusMessageTooBig},
		{name: "ping with a 16-bit length field", input: []byte{0x89, 0xfe, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8}, code: ws.StatusProtocolError},
		{name: "invalid UTF-8", input: text("4\xff"), code: ws.StatusInvalidFramePayloadData},
		{name: "invalid UTF-8 across fragments", input: cat(frame(false, 0, ws.OpText, "4\xc3", true), frame(false, 0, ws.OpContinuation, "\xc3", true), frame(true, 0, ws.OpContinuation, "", true)), code: ws.StatusInvalidFramePayloadData},
		{name: "over the limit", input: text("4" + long), code: ws.StatusMessageTooBig},
		{name: "over the limit in fragments", input: cat(frame(false, 0, ws.OpText, "4"+long[:60], true), frame(true, 0, ws.OpContinuation, long[:60], true)), code: ws.StatusMessageTooBig},
		{name: "declared far over the limit", input: []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, code: ws.StatusMessageTooBig},
		{name: "close with 1 byte", input: frame(true, 0, ws.OpClose, "\x03", true), code: ws.StatusProtocolError},
		{name: "close 999", input: frame(true, 0, ws.OpClose, closeBody(999, ""), true), code: ws.StatusProtocolError},
		{name: "close 1004", input: frame(true, 0, ws.OpClose, closeBody(1004, ""), true), code: ws.StatusProtocolError},
		{name: "close 1005", input: frame(true, 0, ws.OpClose, closeBody(1005, ""), true), code: ws.StatusProtocolError},
		{name: "close 1006", input: frame(true, 0, ws.OpClose, closeBody(1006, ""), true), code: ws.StatusProtocolError},
		{name: "close 1015", input: frame(true, 0, ws.OpClose, closeBody(1015, ""), true), code: ws.StatusProtocolError},
		{name: "close 1016", input: frame(true, 0, ws.OpClose, closeBody(1016, ""), true), code: ws.StatusProtocolError},
		{name: "close 2999", input: frame(true, 0, ws.OpClose, closeBody(2999, ""), true), code: ws.StatusProtocolError},
		{name: "close 5000", input: frame(true, 0, ws.OpClose, closeBody(5000, ""), true), code: ws.StatusProtocolError},
		{name: "close reason not UTF-8", input: frame(true, 0, ws.OpClose, closeBody(1000, "\xff"), true), code: ws.StatusInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := frameReader(tc.input)
			_, err := readAll(r, 100)
			var f *wsFailure
			if !errors.As(err, &f) || f.code != tc.code {
				t.Fatalf("error %v, want a failure with %d", err, tc.code)
			}
		})
	}
}

func TestFrameReaderMessages(t *testing.T) {
	big := string(bytes.Repeat([]byte("é"), 40<<10)) // 80 KiB: read past the stash, into the message
	input := cat(
		text("4one"),
		frame(false, 0, ws.OpText, "4t\xc3", true), // a character split across fragments
		frame(true, 0, ws.OpPing, "hi", true),
		frame(false, 0, ws.OpContinuation, "\xa9", true),
		frame(true, 0, ws.OpPong, "", true),
		frame(true, 0, ws.OpContinuation, "!", true),
		frame(true, 0, ws.OpBinary, "\x00\x01", true),
		frame(true, 0, ws.OpText, "", true),
		text(big),
		frame(true, 0, ws.OpClose, closeBody(4000, "bye"), true),
	)
	// Every split of the input into two reads gives the same messages
	// (a sample of split points, to stay quick).
	for split := 0; split <= len(input); split += 1 + split/7 {
		r, nc := frameReader(input[:split], input[split:])
		msgs, err := readAll(r, 1<<20)
		if !errors.Is(err, errPeerClosed) {
			t.Fatalf("split %d: %v", split, err)
		}
		want := []string{"4one", "4té!", "\x00\x01", "", big}
		if len(msgs) != len(want) {
			t.Fatalf("split %d: %d messages", split, len(msgs))
		}
		for i := range want {
			if msgs[i] != want[i] {
				t.Fatalf("split %d: message %d: %.20q", split, i, msgs[i])
			}
		}
		out := serverFrames(t, nc.written.Bytes())
		if len(out) != 2 || out[0].Header.OpCode != ws.OpPong || string(out[0].Payload) != "hi" ||
			out[1].Header.OpCode != ws.OpClose || string(out[1].Payload) != closeBody(4000, "bye") {
			t.Fatalf("split %d: server wrote %+v", split, out)
		}
	}
}

func TestFrameReaderCloseEcho(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
	}{
		{name: "empty", body: ""},
		{name: "1000", body: closeBody(1000, "")},
		{name: "1001 with a reason", body: closeBody(1001, "going")},
		{name: "1012", body: closeBody(1012, "")},
		{name: "4999", body: closeBody(4999, "x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, nc := frameReader(frame(true, 0, ws.OpClose, tc.body, true), text("4after"))
			msgs, err := readAll(r, 100)
			if !errors.Is(err, errPeerClosed) || len(msgs) != 0 {
				t.Fatalf("%v %q", err, msgs)
			}
			out := serverFrames(t, nc.written.Bytes())
			if len(out) != 1 || out[0].Header.OpCode != ws.OpClose || string(out[0].Payload) != tc.body {
				t.Fatalf("server wrote %+v", out)
			}
		})
	}
}

// TestFrameReaderCloseAfterOurs: when our close frame went first, the
// peer's is not answered.
func TestFrameReaderCloseAfterOurs(t *testing.T) {
	r, nc := frameReader(frame(true, 0, ws.OpClose, closeBody(1000, ""), true))
	if err := r.sendClose(ws.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(r, 100); !errors.Is(err, errPeerClosed) {
		t.Fatal(err)
	}
	if out := serverFrames(t, nc.written.Bytes()); len(out) != 1 {
		t.Fatalf("server wrote %+v", out)
	}
	if _, err := r.out.writeFrames(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a data frame after the close frame: %v", err)
	}
}

// FuzzFrameReader feeds random bytes, split across two reads, to the frame
// reader: it must never panic, never hand out a message over the limit,
// and never allocate for a length the peer declared but did not send.
func FuzzFrameReader(f *testing.F) {
	f.Add(cat(text("4hello"), frame(true, 0, ws.OpPing, "p", true)), 3)
	f.Add(cat(frame(false, 0, ws.OpText, "4a", true), frame(true, 0, ws.OpContinuation, "b", true)), 1)
	f.Add(frame(true, 0, ws.OpClose, closeBody(1000, "bye"), true), 4)
	f.Add(frame(true, 0, ws.OpClose, "\x03", true), 0)
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, 5)
	f.Add([]byte{0x82, 0xfe, 0x0f, 0xa0, 1, 2, 3, 4, 5, 6}, 7)
	f.Add(text("4\xff"), 2)
	f.Add(frame(true, 4, ws.OpText, "4a", true), 1)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		const limit = 4000
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		r, _ := frameReader(bytes.Clone(data[:split]), bytes.Clone(data[split:]))
		for {
			msg, _, ok, err := r.nextMessage(limit)
			if err != nil {
				break
			}
			if !ok {
				if r.fill(true) != nil {
					break
				}
				continue
			}
			if len(msg) > limit || len(msg) > len(data) {
				t.Fatalf("message of %d bytes from %d", len(msg), len(data))
			}
			if cap(msg) > 2*len(data)+msgGrow {
				t.Fatalf("message buffer of %d bytes for %d received", cap(msg), len(data))
			}
		}
		r.releaseStash()
	})
}

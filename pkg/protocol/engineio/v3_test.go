package engineio

import (
	"bytes"
	"errors"
	"testing"
)

// The expected bytes are what engine.io-parser 2.2.1 (the parser of
// socket.io-client 2.x) encodes for the same packets.
func TestAppendPayloadV3(t *testing.T) {
	euro := TextFrame(PacketMessage, []byte("€"))
	bin := Frame{Data: []byte{1, 2, 3, 4}, Binary: true}
	tests := []struct {
		name     string
		frames   []Frame
		binary   bool
		want     string
		isBinary bool
	}{
		{"text", []Frame{TextFrame(PacketMessage, []byte("hello")), euro}, true, "6:4hello2:4€", false},
		{"utf-16 length", []Frame{TextFrame(PacketMessage, []byte("😀x")), TextFrame(PacketPing, nil), TextFrame(PacketNoop, nil)}, false, "4:4😀x1:21:6", false},
		{"base64 binary", []Frame{euro, bin}, false, "2:4€10:b4AQIDBA==", false},
		{"binary framing", []Frame{euro, bin}, true, "\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, isBinary := AppendPayloadV3(nil, tt.frames, tt.binary)
			if string(got) != tt.want || isBinary != tt.isBinary {
				t.Fatalf("got %q (binary %v), want %q (binary %v)", got, isBinary, tt.want, tt.isBinary)
			}
			var back []Frame
			if err := DecodePayloadV3(got, isBinary, func(p Packet) error {
				back = append(back, p.Frame())
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(back) != len(tt.frames) {
				t.Fatalf("decoded %d packets, want %d", len(back), len(tt.frames))
			}
			for i := range back {
				if back[i].Binary != tt.frames[i].Binary || !bytes.Equal(back[i].Data, tt.frames[i].Data) {
					t.Fatalf("packet %d: %+v, want %+v", i, back[i], tt.frames[i])
				}
			}
		})
	}
}

func TestDecodePayloadV3Errors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		binary  bool
		want    error
	}{
		{"empty", "", false, ErrEmptyPacket},
		{"no length", ":4a", false, ErrBadLength},
		{"no colon", "4hello", false, ErrBadLength},
		{"short", "6:4hell", false, ErrBadLength},
		{"split surrogate pair", "2:4😀", false, ErrBadLength},
		{"negative", "-1:4", false, ErrBadLength},
		{"unknown type", "2:9a", false, ErrUnknownPacket},
		{"bad base64", "4:b4!!", false, ErrBadBase64},
		{"base64 ping", "4:b2AA", false, ErrBinaryType},
		{"binary: bad kind", "\x02\x01\xff4", true, ErrBadLength},
		{"binary: no separator", "\x00\x01\x02", true, ErrBadLength},
		{"binary: short", "\x01\x09\xff\x04\x01", true, ErrBadLength},
		{"binary: not a message", "\x01\x02\xff\x02\x01", true, ErrBinaryType},
		{"binary: invalid utf-8 text", "\x00\x02\xff4\xff", true, ErrBadUTF8V3},
		{"invalid utf-8 text", "2:4\xff", false, ErrBadUTF8V3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodePayloadV3([]byte(tt.payload), tt.binary, func(Packet) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodePacketV3(t *testing.T) {
	p, err := DecodePacketV3([]byte{4, 1, 2}, true)
	if err != nil || p.Type != PacketMessage || !p.Binary || !bytes.Equal(p.Data, []byte{1, 2}) {
		t.Fatalf("binary: %+v %v", p, err)
	}
	p, err = DecodePacketV3([]byte("b4AQI="), false)
	if err != nil || !p.Binary || !bytes.Equal(p.Data, []byte{1, 2}) {
		t.Fatalf("base64: %+v %v", p, err)
	}
	p, err = DecodePacketV3([]byte("2probe"), false)
	if err != nil || p.Type != PacketPing || string(p.Data) != "probe" {
		t.Fatalf("text: %+v %v", p, err)
	}
	if got := AppendBinaryMessageV3(nil, []byte{1}); !bytes.Equal(got, []byte{4, 1}) {
		t.Fatalf("AppendBinaryMessageV3 %v", got)
	}
	if got := AppendBase64MessageV3(nil, []byte{1, 2}); string(got) != "b4AQI=" {
		t.Fatalf("AppendBase64MessageV3 %q", got)
	}
}

func FuzzDecodePacketV3(f *testing.F) {
	for _, s := range []string{"2probe", "4hello", "b4AQI=", "b", "b2AA", "5", ""} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{4, 1, 2}, true)
	f.Add([]byte{2}, true)
	f.Fuzz(func(t *testing.T, msg []byte, binary bool) {
		p, err := DecodePacketV3(msg, binary)
		if err != nil {
			return
		}
		if !p.Type.Valid() || (p.Binary && p.Type != PacketMessage) {
			t.Fatalf("decoded %+v", p)
		}
		// What the server would send back for it decodes to the same packet.
		var again []byte
		switch {
		case p.Binary && binary:
			again = AppendBinaryMessageV3(nil, p.Data)
		case p.Binary:
			again = AppendBase64MessageV3(nil, p.Data)
		default:
			again = AppendPacket(nil, p)
		}
		q, err := DecodePacketV3(again, binary)
		if err != nil || q.Type != p.Type || q.Binary != p.Binary || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", msg, p, again, q, err)
		}
	})
}

func FuzzDecodePayloadV3(f *testing.F) {
	for _, s := range []string{"6:4hello2:4€", "2:4€10:b4AQIDBA==", "0:", "4:4😀x1:21:6", "1:", "99999999999:4"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04"), true)
	f.Add([]byte("\x01\xff"), true)
	f.Fuzz(func(t *testing.T, payload []byte, binary bool) {
		var frames []Frame
		err := DecodePayloadV3(payload, binary, func(p Packet) error {
			if !p.Type.Valid() {
				t.Fatalf("invalid type %d", p.Type)
			}
			frames = append(frames, p.Frame())
			return nil
		})
		if err != nil || len(frames) == 0 {
			return
		}
		// Both framings must carry the packets through a round trip.
		for _, supportsBinary := range []bool{false, true} {
			again, isBinary := AppendPayloadV3(nil, frames, supportsBinary)
			i := 0
			err = DecodePayloadV3(again, isBinary, func(p Packet) error {
				if f := p.Frame(); f.Binary != frames[i].Binary || !bytes.Equal(f.Data, frames[i].Data) {
					t.Fatalf("packet %d changed: %+v vs %+v", i, f, frames[i])
				}
				i++
				return nil
			})
			if err != nil || i != len(frames) {
				t.Fatalf("re-decode (binary %v) %q: %v after %d of %d", supportsBinary, again, err, i, len(frames))
			}
		}
	})
}

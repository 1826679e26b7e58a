package engineio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		binary bool
		want   Packet
		err    error
	}{
		{"open", `0{"sid":"x"}`, false, Packet{Type: PacketOpen, Data: []byte(`{"sid":"x"}`)}, nil},
		{"close", "1", false, Packet{Type: PacketClose, Data: []byte{}}, nil},
		{"ping probe", "2probe", false, Packet{Type: PacketPing, Data: []byte("probe")}, nil},
		{"pong", "3", false, Packet{Type: PacketPong, Data: []byte{}}, nil},
		{"message", "4hello", false, Packet{Type: PacketMessage, Data: []byte("hello")}, nil},
		{"utf8 message", "4€😀", false, Packet{Type: PacketMessage, Data: []byte("€😀")}, nil},
		{"upgrade", "5", false, Packet{Type: PacketUpgrade, Data: []byte{}}, nil},
		{"noop", "6", false, Packet{Type: PacketNoop, Data: []byte{}}, nil},
		{"binary", "\x00\x01\xff", true, Packet{Type: PacketMessage, Data: []byte("\x00\x01\xff"), Binary: true}, nil},
		{"empty binary", "", true, Packet{Type: PacketMessage, Data: []byte{}, Binary: true}, nil},
		{"empty", "", false, Packet{}, ErrEmptyPacket},
		{"type 7", "7", false, Packet{}, ErrUnknownPacket},
		{"type letter", "a", false, Packet{}, ErrUnknownPacket},
		{"type below 0", "/", false, Packet{}, ErrUnknownPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePacket([]byte(tt.msg), tt.binary)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got.Type != tt.want.Type || got.Binary != tt.want.Binary || !bytes.Equal(got.Data, tt.want.Data) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if err == nil {
				if enc := AppendPacket(nil, got); string(enc) != tt.msg {
					t.Fatalf("re-encoded %q, want %q", enc, tt.msg)
				}
			}
		})
	}
}

func TestPacketTypeString(t *testing.T) {
	for i, want := range []string{"open", "close", "ping", "pong", "message", "upgrade", "noop", "unknown"} {
		if got := PacketType(i).String(); got != want {
			t.Errorf("PacketType(%d) = %q, want %q", i, got, want)
		}
	}
}

func TestFrames(t *testing.T) {
	if f := TextFrame(PacketMessage, []byte("hi")); string(f.Data) != "4hi" || f.Binary {
		t.Errorf("TextFrame = %+v", f)
	}
	if f := (Packet{Type: PacketMessage, Data: []byte{1, 2}, Binary: true}).Frame(); !f.Binary || !bytes.Equal(f.Data, []byte{1, 2}) {
		t.Errorf("binary Frame = %+v", f)
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		open Open
		want string
	}{
		{"polling", NewOpen("abc", []string{"websocket"}, 25*time.Second, 20*time.Second, 1e6),
			`{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"no upgrades", NewOpen("x_-Y", nil, 300*time.Millisecond, 200*time.Millisecond, 1000),
			`{"sid":"x_-Y","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.open.AppendJSON(nil)); got != tt.want {
				t.Fatalf("AppendJSON = %s, want %s", got, tt.want)
			}
			if got := string(tt.open.Frame().Data); got != "0"+tt.want {
				t.Fatalf("Frame = %s", got)
			}
			back, err := ParseOpen([]byte(tt.want))
			if err != nil || back.SID != tt.open.SID || back.PingInterval != tt.open.PingInterval || back.MaxPayload != tt.open.MaxPayload {
				t.Fatalf("ParseOpen = %+v, %v", back, err)
			}
		})
	}
}

package engineio

import (
	"bytes"
	"errors"
	"testing"
)

func TestAppendPayload(t *testing.T) {
	tests := []struct {
		name   string
		frames []Frame
		want   string
	}{
		{"none", nil, ""},
		{"one", []Frame{{Data: []byte("4hello")}}, "4hello"},
		{"spec example", []Frame{{Data: []byte("4hello")}, {Data: []byte{1, 2, 3, 4}, Binary: true}}, "4hello\x1ebAQIDBA=="},
		{"ping and noop", []Frame{{Data: []byte("2")}, {Data: []byte("6")}}, "2\x1e6"},
		{"empty binary", []Frame{{Data: nil, Binary: true}}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendPayload(nil, tt.frames)
			if string(got) != tt.want {
				t.Fatalf("AppendPayload = %q, want %q", got, tt.want)
			}
			if n := PayloadLen(tt.frames); n != len(got) {
				t.Fatalf("PayloadLen = %d, want %d", n, len(got))
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    []Packet
		err     error
	}{
		{"one", "4hello", []Packet{{Type: PacketMessage, Data: []byte("hello")}}, nil},
		{"spec example", "4hello\x1ebAQIDBA==", []Packet{
			{Type: PacketMessage, Data: []byte("hello")},
			{Type: PacketMessage, Data: []byte{1, 2, 3, 4}, Binary: true},
		}, nil},
		{"pong and close", "3\x1e1", []Packet{{Type: PacketPong}, {Type: PacketClose}}, nil},
		{"empty", "", nil, ErrEmptyPacket},
		{"trailing separator", "4a\x1e", []Packet{{Type: PacketMessage, Data: []byte("a")}}, ErrEmptyPacket},
		{"bad type after good", "4a\x1ez", []Packet{{Type: PacketMessage, Data: []byte("a")}}, ErrUnknownPacket},
		{"bad base64", "b!!!", nil, ErrBadBase64},
		{"empty binary", "b", []Packet{{Type: PacketMessage, Data: []byte{}, Binary: true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Packet
			err := DecodePayload([]byte(tt.payload), func(p Packet) error {
				got = append(got, p)
				return nil
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d packets %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || got[i].Binary != tt.want[i].Binary || !bytes.Equal(got[i].Data, tt.want[i].Data) {
					t.Fatalf("packet %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDecodePayloadStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), func(Packet) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err = %v after %d packets", err, n)
	}
}

// TestDecodePayloadAliases checks that text packets are not copied.
func TestDecodePayloadAliases(t *testing.T) {
	payload := []byte("4abc\x1e4def")
	var first Packet
	_ = DecodePayload(payload, func(p Packet) error {
		if first.Data == nil {
			first = p
		}
		return nil
	})
	payload[1] = 'X'
	if string(first.Data) != "Xbc" {
		t.Fatalf("text packet was copied: %q", first.Data)
	}
	// Appending to a decoded packet must not overwrite the next record.
	_ = append(first.Data, '!')
	if payload[4] != RecordSeparator {
		t.Fatal("decoded packet capacity spills into the next record")
	}
}

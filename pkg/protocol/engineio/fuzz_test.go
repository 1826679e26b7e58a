package engineio

import (
	"bytes"
	"testing"
)

func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"", "0{}", "1", "2probe", "3", "4hello", "5", "6", "7", "4€"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{0, 1, 2}, true)
	f.Fuzz(func(t *testing.T, msg []byte, binary bool) {
		p, err := DecodePacket(msg, binary)
		if err != nil {
			return
		}
		if !p.Type.Valid() {
			t.Fatalf("invalid type %d decoded", p.Type)
		}
		if enc := AppendPacket(nil, p); !bytes.Equal(enc, msg) {
			t.Fatalf("round trip %q -> %q", msg, enc)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello\x1ebAQIDBA==", "", "\x1e", "b", "b===", "4a\x1e4b\x1e2", "4\x1e\x1e4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var frames []Frame
		err := DecodePayload(payload, func(p Packet) error {
			if !p.Type.Valid() {
				t.Fatalf("invalid type %d", p.Type)
			}
			frames = append(frames, p.Frame())
			return nil
		})
		if err != nil {
			return
		}
		// Re-encode and decode again: the packets must survive a round trip.
		again := AppendPayload(nil, frames)
		i := 0
		err = DecodePayload(again, func(p Packet) error {
			if f := p.Frame(); f.Binary != frames[i].Binary || !bytes.Equal(f.Data, frames[i].Data) {
				t.Fatalf("packet %d changed: %+v vs %+v", i, f, frames[i])
			}
			i++
			return nil
		})
		if err != nil || i != len(frames) {
			t.Fatalf("re-decode: %v after %d of %d", err, i, len(frames))
		}
	})
}

// FuzzDecodePayloadSplit decodes a payload cut at an arbitrary point in two
// bodies (as two POSTs would carry it): each half decodes or fails on its
// own, never panics.
func FuzzDecodePayloadSplit(f *testing.F) {
	f.Add([]byte("4hello\x1ebAQIDBA=="), uint16(3))
	f.Add([]byte("4a\x1e4b"), uint16(2))
	f.Fuzz(func(t *testing.T, payload []byte, cut uint16) {
		c := int(cut) % (len(payload) + 1)
		for _, half := range [][]byte{payload[:c], payload[c:]} {
			_ = DecodePayload(half, func(Packet) error { return nil })
		}
	})
}

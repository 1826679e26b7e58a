package engineio

import (
	"bytes"
	"testing"
)

func BenchmarkDecodePacket(b *testing.B) {
	msg := []byte(`42["message","hello, world"]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePacket(msg, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	frames := []Frame{
		{Data: []byte(`42["message","hello, world"]`)},
		{Data: []byte(`42["message","second"]`)},
		{Data: bytes.Repeat([]byte{7}, 64), Binary: true},
		{Data: []byte("2")},
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPayload(buf[:0], frames)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodePayload(b *testing.B) {
	payload := AppendPayload(nil, []Frame{
		{Data: []byte(`42["message","hello, world"]`)},
		{Data: []byte(`42["message","second"]`)},
		{Data: []byte("3")},
	})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodePayload(payload, func(Packet) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePayloadBinary(b *testing.B) {
	payload := AppendPayload(nil, []Frame{{Data: bytes.Repeat([]byte{7}, 1024), Binary: true}})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodePayload(payload, func(Packet) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenFrame(b *testing.B) {
	o := Open{SID: "AAAAAAAAAAAAAAAAAAAA", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1e6}
	b.ReportAllocs()
	for b.Loop() {
		_ = o.Frame()
	}
}

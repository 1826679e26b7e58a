package socketio

import (
	"strconv"
	"strings"
	"testing"
)

// eventText returns an EVENT packet whose text is about size bytes.
func eventText(size int) []byte {
	head := `2/chat,12["message",{"room":"chat","seq":42,"ts":1700000000000,"text":"`
	tail := `"}]`
	n := max(size-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", n) + tail)
}

func BenchmarkEncodeEvent(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(sizeName(size), func(b *testing.B) {
			arg := []byte(`{"room":"chat","text":"` + strings.Repeat("x", max(size-48, 0)) + `"}`)
			dst := make([]byte, 0, 2*size)
			data := make([]byte, 0, 2*size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				data = AppendEvent(data[:0], "message", arg)
				p := Packet{Type: Event, Namespace: "/chat", ID: 12, HasID: true, Data: data}
				dst = p.Append(dst[:0])
			}
		})
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(sizeName(size), func(b *testing.B) {
			text := eventText(size)
			var d Decoder
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := d.Decode(text); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sizeName(size)+"/into", func(b *testing.B) {
			text := eventText(size)
			var d Decoder
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if done, err := d.DecodeInto(text, &p); !done || err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sizeName(size)+"/elements", func(b *testing.B) {
			text := eventText(size)
			var d Decoder
			var p Packet
			elems := make([][]byte, 0, 8)
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				done, _, err := d.DecodeElements(text, &p, elems[:0])
				if !done || err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeBinaryEvent(b *testing.B) {
	text := []byte(`52-/chat,["upload",{"name":"a.png"},{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	att := make([]byte, 1024)
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(text); err != nil {
			b.Fatal(err)
		}
		d.AddAttachment(att)
		if p, err := d.AddAttachment(att); p == nil || err != nil {
			b.Fatal(p, err)
		}
	}
}

func BenchmarkSplitArray(b *testing.B) {
	data := []byte(`["message",{"room":"chat","seq":42},"text with \"quotes\"",[1,2,3],9007199254740993,true]`)
	b.Run("SplitArray", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := SplitArray(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendElements", func(b *testing.B) {
		buf := make([][]byte, 0, 8)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendElements(buf[:0], data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SplitEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := SplitEvent(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeDeep(b *testing.B) {
	text := []byte("2" + strings.Repeat("[", 10000) + strings.Repeat("]", 10000))
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(text); err == nil {
			b.Fatal("accepted")
		}
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

package msgpack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"nil", AppendNil(nil), "c0"},
		{"true", AppendBool(nil, true), "c3"},
		{"false", AppendBool(nil, false), "c2"},
		{"fixint", AppendInt(nil, 42), "2a"},
		{"negfixint", AppendInt(nil, -32), "e0"},
		{"int8", AppendInt(nil, -33), "d0df"},
		{"int16", AppendInt(nil, -129), "d1ff7f"},
		{"int32", AppendInt(nil, -32769), "d2ffff7fff"},
		{"int64", AppendInt(nil, math.MinInt64), "d38000000000000000"},
		{"uint8", AppendUint(nil, 200), "ccc8"},
		{"uint16", AppendUint(nil, 65535), "cdffff"},
		{"uint32", AppendUint(nil, 1<<32-1), "ceffffffff"},
		{"uint64 2^53+1", AppendUint(nil, 9007199254740993), "cf0020000000000001"},
		{"float64", AppendFloat64(nil, 3.5), "cb400c000000000000"},
		{"float32", AppendFloat32(nil, 1.5), "ca3fc00000"},
		{"fixstr", AppendString(nil, "hello"), "a568656c6c6f"},
		{"str8", AppendString(nil, string(make([]byte, 32))), "d920" + hex.EncodeToString(make([]byte, 32))},
		{"bin8", AppendBinary(nil, []byte{0xde, 0xad}), "c402dead"},
		{"fixarray", AppendArrayHeader(nil, 3), "93"},
		{"array16", AppendArrayHeader(nil, 16), "dc0010"},
		{"fixmap", AppendMapHeader(nil, 1), "81"},
		{"map16", AppendMapHeader(nil, 300), "de012c"},
		{"fixext1", AppendExt(nil, 5, []byte{1}), "d40501"},
		{"ext8", AppendExt(nil, 5, []byte{1, 2, 3}), "c70305010203"},
		{"timestamp32", AppendTimestamp(nil, time.Unix(1, 0)), "d6ff00000001"},
		{"timestamp64", AppendTimestamp(nil, time.Unix(1, 1e6)), "d7ff003d090000000001"},
		{"timestamp96", AppendTimestamp(nil, time.Unix(-1, 0)), "c70cff00000000ffffffffffffffff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.got); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			// Everything we write reads back as one header.
			r := NewReader(tt.got)
			if _, err := r.Next(); (err != nil || r.Remaining() != 0) && tt.got[0]&0xe0 != 0x80 && tt.got[0] != 0xdc && tt.got[0] != 0xde {
				t.Fatalf("skip: %v, %d left", err, r.Remaining())
			}
		})
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Token
	}{
		{"fixint", "7f", Token{Type: TypeUint, Uint: 127}},
		{"negfixint", "ff", Token{Type: TypeInt, Int: -1}},
		{"uint64", "cfffffffffffffffff", Token{Type: TypeUint, Uint: math.MaxUint64}},
		{"int8 positive", "d005", Token{Type: TypeUint, Uint: 5}},
		{"int64", "d3fffffffffffffffe", Token{Type: TypeInt, Int: -2}},
		{"int16", "d1fffe", Token{Type: TypeInt, Int: -2}},
		{"int32", "d2fffffffe", Token{Type: TypeInt, Int: -2}},
		{"uint16", "cd0100", Token{Type: TypeUint, Uint: 256}},
		{"uint32", "ce00010000", Token{Type: TypeUint, Uint: 65536}},
		{"float32", "ca3fc00000", Token{Type: TypeFloat, Float: 1.5, Float32: true}},
		{"float64", "cb400c000000000000", Token{Type: TypeFloat, Float: 3.5}},
		{"nil", "c0", Token{Type: TypeNil}},
		{"array", "92c0c0", Token{Type: TypeArray, Len: 2}},
		{"map16", "de0001c0c0", Token{Type: TypeMap, Len: 1}},
		{"str16", "da000161", Token{Type: TypeStr, Bytes: []byte("a")}},
		{"str32", "db0000000161", Token{Type: TypeStr, Bytes: []byte("a")}},
		{"bin32", "c60000000161", Token{Type: TypeBin, Bytes: []byte("a")}},
		{"fixext16", "d8" + "01" + "00112233445566778899aabbccddeeff", Token{Type: TypeExt, Ext: 1, Bytes: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tt.in)
			got, err := NewReader(in).Next()
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.want.Type || got.Uint != tt.want.Uint || got.Int != tt.want.Int ||
				got.Float != tt.want.Float || got.Float32 != tt.want.Float32 || got.Len != tt.want.Len ||
				got.Ext != tt.want.Ext || !bytes.Equal(got.Bytes, tt.want.Bytes) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"reserved", "c1"},
		{"short str", "a3616263"[:6]},
		{"short uint64", "cf0001"},
		{"huge array", "dd7fffffff"},
		{"huge map", "df7fffffff00"},
		{"short bin", "c50100"},
		{"short ext", "c7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tt.in)
			if err := NewReader(in).Skip(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	for _, want := range []time.Time{
		time.Unix(0, 0), time.Unix(1700000000, 123000000), time.Unix(1<<34, 5), time.Unix(-100, 999),
	} {
		b := AppendTimestamp(nil, want)
		tok, err := NewReader(b).Next()
		if err != nil || tok.Type != TypeExt || tok.Ext != TimestampExt {
			t.Fatalf("%v: %+v %v", want, tok, err)
		}
		got, err := Timestamp(tok.Bytes)
		if err != nil || !got.Equal(want) {
			t.Fatalf("got %v %v, want %v", got, err, want)
		}
	}
}

func TestRaw(t *testing.T) {
	b := AppendArrayHeader(nil, 2)
	b = AppendString(b, "x")
	b = AppendMapHeader(b, 1)
	b = AppendString(b, "k")
	b = AppendInt(b, -1000)
	b = AppendBool(b, true)
	r := NewReader(b)
	raw, err := r.Raw()
	if err != nil || !bytes.Equal(raw, b[:len(b)-1]) {
		t.Fatalf("raw %x %v", raw, err)
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"93a6734e63583874830a",
		"93a6734e6358387483a47479706502a46461746197a568656c6c6fa5776f726c642acb400c000000000000c3c081a16101a36e7370a12f83a5726f6f707390a6657863657074",
		"d6ff00000001", "c70cff00000000ffffffffffffffff", "dc0010", "de012c", "cf0020000000000001",
		"d40000", "c70300010203", "ca3fc00000",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		for i := 0; i < 64 && r.Remaining() > 0; i++ {
			start := r.Offset()
			if err := r.Skip(); err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if r.Offset() <= start {
				t.Fatal("skip made no progress")
			}
		}
		r.Reset(b)
		for r.Remaining() > 0 {
			tok, err := r.Next()
			if err != nil {
				return
			}
			if tok.Type == TypeExt && tok.Ext == TimestampExt {
				_, _ = Timestamp(tok.Bytes)
			}
		}
	})
}

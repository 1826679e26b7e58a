package redis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/msgpack"
)

func TestJSONToMsgpack(t *testing.T) {
	tests := []struct {
		name string
		in   string
		atts [][]byte
		want string // hex
	}{
		{"2^53+1 exact", `9007199254740993`, nil, "cf0020000000000001"},
		{"max uint64", `18446744073709551615`, nil, "cfffffffffffffffff"},
		{"min int64", `-9223372036854775808`, nil, "d38000000000000000"},
		{"too big: float", `18446744073709551616`, nil, "cb43f0000000000000"},
		{"float", `3.5`, nil, "cb400c000000000000"},
		{"integral float", `2.0`, nil, "02"},
		{"exponent", `1e3`, nil, "cd03e8"},
		{"negative", `-200`, nil, "d1ff38"},
		{"string escapes", `"a\n\u00e9\ud83d\ude00"`, nil, "a8" + hex.EncodeToString([]byte("a\né😀"))},
		{"placeholder", `[{"_placeholder":true,"num":0}]`, [][]byte{{9}}, "91c40109"},
		{"placeholder keys reversed", `{"num":0, "_placeholder":true}`, [][]byte{{9}}, "c40109"},
		{"placeholder out of range is a map", `{"_placeholder":true,"num":1}`, [][]byte{{9}},
			"82" + "ac" + hex.EncodeToString([]byte("_placeholder")) + "c3" + "a3" + hex.EncodeToString([]byte("num")) + "01"},
		{"placeholder with extra member", `{"num":0,"_placeholder":true,"x":1}`, [][]byte{{9}}, "c40109"},
		{"placeholder with escaped key", `{"\u005fplaceholder":true,"n\u0075m":0}`, [][]byte{{9}}, "c40109"},
		{"placeholder num 1e0", `[{"_placeholder":true,"num":1e0}]`, [][]byte{{9}, {8}}, "91c40108"},
		{"placeholder hides an invalid one", `{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":5}}`, [][]byte{{9}}, "c40109"},
		{"truthy _placeholder is a map", `{"_placeholder":1,"num":0}`, [][]byte{{9}},
			"82" + "ac" + hex.EncodeToString([]byte("_placeholder")) + "01" + "a3" + hex.EncodeToString([]byte("num")) + "00"},
		{"last duplicate false is a map", `{"_placeholder":true,"num":0,"_placeholder":false}`, [][]byte{{9}},
			"83" + "ac" + hex.EncodeToString([]byte("_placeholder")) + "c3" + "a3" + hex.EncodeToString([]byte("num")) + "00" +
				"ac" + hex.EncodeToString([]byte("_placeholder")) + "c2"},
		{"map16 with a placeholder inside", `[{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":{"_placeholder":true,"num":0}}]`, [][]byte{{9}},
			"91de0010a16100a16200a16300a16400a16500a16600a16700a16800a16900a16a00a16b00a16c00a16d00a16e00a16f00a170c40109"},
		{"array16", `[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]`, nil, "dc0010" + "00000000000000000000000000000000"},
		{"literals", ` [ true , false , null ] `, nil, "93c3c2c0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonToMsgpack(nil, []byte(tt.in), tt.atts)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Fatalf("got %x, want %s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `[`, `{"a"}`, `"abc`, `[1,]`, `tru`, `-`, `1 2`, "\"\x01\""} {
		if _, err := jsonToMsgpack(nil, []byte(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMsgpackToJSON(t *testing.T) {
	ts := msgpack.AppendTimestamp(nil, time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	tests := []struct {
		name     string
		in       []byte
		want     string
		wantAtts int
	}{
		{"float32", msgpack.AppendFloat32(nil, 1.5), `1.5`, 0},
		{"small float", msgpack.AppendFloat64(nil, 1e-7), `1e-7`, 0},
		{"big float", msgpack.AppendFloat64(nil, 1e21), `1e+21`, 0},
		{"uint64", msgpack.AppendUint(nil, 18446744073709551615), `18446744073709551615`, 0},
		{"int8", []byte{0xd0, 0x80}, `-128`, 0},
		{"timestamp", ts, `"2024-05-06T07:08:09.123Z"`, 0},
		{"undefined in array", []byte{0x92, 0xd4, 0x00, 0x00, 0x01}, `[null,1]`, 0},
		{"undefined in map", []byte{0x82, 0xa1, 'a', 0xd4, 0x00, 0x00, 0xa1, 'b', 0x01}, `{"b":1}`, 0},
		{"int key", []byte{0x81, 0x07, 0xc0}, `{"7":null}`, 0},
		{"bin", []byte{0x92, 0xc4, 0x01, 0xff, 0xc4, 0x00}, `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2},
		{"legacy arraybuffer", []byte{0xc7, 0x02, 0x00, 0x01, 0x02}, `{"_placeholder":true,"num":0}`, 1},
		{"string escaping", msgpack.AppendString(nil, "\"\\\x01\xff"), `"\"\\\u0001\ufffd"`, 0},
		{"NaN", msgpack.AppendFloat64(nil, math.NaN()), `null`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var atts [][]byte
			got, err := msgpackToJSON(nil, msgpack.NewReader(tt.in), &atts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || len(atts) != tt.wantAtts {
				t.Fatalf("got %s (%d attachments), want %s (%d)", got, len(atts), tt.want, tt.wantAtts)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, in := range []string{
		`["hello","world",42,3.5,true,null,{"a":1}]`,
		`["n",9007199254740993,-9007199254740993,0.1,-0.5,1e-7,123456789012345680000]`,
		`["s","é\u2028\"\\",{"nested":[[[]],{}]}]`,
		`["bin",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]`,
	} {
		atts := [][]byte{{1, 2}, {3}}
		mp, err := jsonToMsgpack(nil, []byte(in), atts)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var gotAtts [][]byte
		out, err := msgpackToJSON(nil, msgpack.NewReader(mp), &gotAtts)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var a, b any
		if json.Unmarshal([]byte(in), &a) != nil || json.Unmarshal(out, &b) != nil {
			t.Fatalf("invalid JSON %s", out)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("round trip\n in  %s\n out %s", in, out)
		}
	}
}

func FuzzMsgpackToJSON(f *testing.F) {
	f.Add(captureEmit(f))
	f.Add([]byte{0x92, 0xd4, 0x00, 0x00, 0x01})
	f.Add([]byte{0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 0x07, 0xc4, 0x01, 0xff})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var atts [][]byte
		out, err := msgpackToJSON(nil, msgpack.NewReader(b), &atts)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %x", out, b)
		}
	})
}

// FuzzJSONToMsgpack checks that the transcoder accepts only valid JSON and
// that a payload crossing Redis (JSON to msgpack and back) means to its
// recipients what it means on the sender's node: with socket.io-parser's
// reconstructPacket applied to both, the values are equal.
func FuzzJSONToMsgpack(f *testing.F) {
	for _, s := range []string{`["hello",1,2.5,{"a":[true,null]}]`, `{"_placeholder":true,"num":0}`, `"\ud83d\ude00\u0000"`, `-0.0e-5`, `[[[[]]]]`,
		`[{"num":1,"_placeholder":true,"x":1},{"\u005fplaceholder":true,"num":0}]`, `[{"_placeholder":1,"num":0},{"_placeholder":true,"num":0,"_placeholder":false}]`,
		`{"a":{"_placeholder":true,"num":0,"b":{"_placeholder":true,"num":9}}}`, `[{"_placeholder":true,"num":1.0e0}]`} {
		f.Add([]byte(s))
	}
	atts := [][]byte{{1}, {2, 2}}
	f.Fuzz(func(t *testing.T, b []byte) {
		mp, err := jsonToMsgpack(nil, b, atts)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		r := msgpack.NewReader(mp)
		if err := r.Skip(); err != nil || r.Remaining() != 0 {
			t.Fatalf("output %x is not one msgpack value: %v", mp, err)
		}
		var gotAtts [][]byte
		out, err := msgpackToJSON(nil, msgpack.NewReader(mp), &gotAtts)
		if err != nil || !json.Valid(out) {
			t.Fatalf("back to JSON: %q %v", out, err)
		}
		var local, remote any
		if json.Unmarshal(b, &local) != nil || json.Unmarshal(out, &remote) != nil {
			return // a lone surrogate: not valid for encoding/json's decoder
		}
		lv, lok := reconstruct(local, atts)
		rv, rok := reconstruct(remote, gotAtts)
		if lok && (!rok || !reflect.DeepEqual(lv, rv)) {
			t.Fatalf("%s crossed Redis as %s:\n local  %#v\n remote %#v", b, out, lv, rv)
		}
	})
}

// attachment stands for an attachment in a reconstructed value.
type attachment string

// reconstruct replaces, as socket.io-parser 4.2's reconstructPacket does,
// each object whose _placeholder is exactly true with its attachment; false
// when the packet would be refused (num missing, not a number or out of
// range; a fractional num, which Node resolves to undefined, too).
func reconstruct(v any, atts [][]byte) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if v["_placeholder"] == true {
			num, ok := v["num"].(float64)
			if !ok || num < 0 || num >= float64(len(atts)) || num != math.Trunc(num) {
				return nil, false
			}
			return attachment(atts[int(num)]), true
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			var ok bool
			if out[k], ok = reconstruct(e, atts); !ok {
				return nil, false
			}
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var ok bool
			if out[i], ok = reconstruct(e, atts); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return v, true
}

// FuzzMessages feeds arbitrary payloads to every channel handler of both
// formats: nothing may panic or block.
func FuzzMessages(f *testing.F) {
	f.Add(uint8(0), captureEmit(f))
	f.Add(uint8(1), []byte(`{"uid":"other","requestId":"abc","type":5,"opts":{"rooms":["a"],"except":[]}}`))
	f.Add(uint8(1), []byte(`{"uid":"other","type":6,"data":["ev",{"x":1}],"requestId":"r"}`))
	f.Add(uint8(1), []byte(`{"uid":"other","type":2,"opts":{"rooms":[1,"b"],"except":null},"rooms":["r"]}`))
	f.Add(uint8(2), []byte(`{"type":8,"requestId":"pkLYFs","clientCount":1}`))
	f.Add(uint8(3), []byte(`{"type":3,"data":{"packet":{"type":2,"data":["hello",1]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"7abc1cbe5bcfad24","nsp":"/"}`))
	f.Add(uint8(3), []byte(`{"type":7,"data":{"opts":{"rooms":[],"except":[]},"requestId":"x"},"uid":"u","nsp":"/"}`))
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		sharded := which%4 == 3
		n, _ := offlineNamespace(t, "me0000", sharded)
		ch := [...]string{"socket.io#/#", "socket.io-request#/#", "socket.io-response#/#", "socket.io#/#"}[which%4]
		n.a.dispatch(ch, string(payload))
	})
}

package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeAll feeds a text packet and its attachments to a fresh Decoder and
// returns the completed packet.
func decodeAll(t testing.TB, d *Decoder, text string, atts ...[]byte) (*Packet, error) {
	t.Helper()
	p, err := d.Decode([]byte(text))
	if err != nil || p != nil {
		if len(atts) > 0 && err == nil {
			t.Fatalf("packet complete before its %d attachments", len(atts))
		}
		return p, err
	}
	for i, a := range atts {
		p, err = d.AddAttachment(a)
		if err != nil {
			return nil, err
		}
		if (p != nil) != (i == len(atts)-1) {
			t.Fatalf("attachment %d of %d: complete=%v", i+1, len(atts), p != nil)
		}
	}
	return p, nil
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		text string
		atts [][]byte
		want Packet
	}{
		{"connect", "0", nil, Packet{Type: Connect, Namespace: "/"}},
		{"connect auth", `0{"token":"123"}`, nil, Packet{Type: Connect, Namespace: "/", Data: []byte(`{"token":"123"}`)}},
		{"connect nsp", "0/admin,", nil, Packet{Type: Connect, Namespace: "/admin"}},
		{"connect nsp auth", `0/admin,{"a":1}`, nil, Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"a":1}`)}},
		{"connect reply", `0{"sid":"oSO0OpakMV_3jnilAAAA"}`, nil, Packet{Type: Connect, Namespace: "/", Data: []byte(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
		{"disconnect", "1", nil, Packet{Type: Disconnect, Namespace: "/"}},
		{"disconnect nsp", "1/admin,", nil, Packet{Type: Disconnect, Namespace: "/admin"}},
		{"event", `2["hello",1]`, nil, Packet{Type: Event, Namespace: "/", Data: []byte(`["hello",1]`)}},
		{"event id", `212["hello"]`, nil, Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: []byte(`["hello"]`)}},
		{"event nsp id", `2/admin,456["project:delete",123]`, nil, Packet{Type: Event, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`["project:delete",123]`)}},
		{"event numeric name", `2[42,"x"]`, nil, Packet{Type: Event, Namespace: "/", Data: []byte(`[42,"x"]`)}},
		{"event exact number", `2["n",9007199254740993,1e400,{"b":1,"a":2}]`, nil, Packet{Type: Event, Namespace: "/", Data: []byte(`["n",9007199254740993,1e400,{"b":1,"a":2}]`)}},
		{"event unicode", `2["msg","héllo \u00e9 😀 \ud83d\ude00"]`, nil, Packet{Type: Event, Namespace: "/", Data: []byte(`["msg","héllo \u00e9 😀 \ud83d\ude00"]`)}},
		{"ack", `3/admin,456[]`, nil, Packet{Type: Ack, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`[]`)}},
		{"ack max id", `318446744073709551615["x"]`, nil, Packet{Type: Ack, Namespace: "/", ID: 18446744073709551615, HasID: true, Data: []byte(`["x"]`)}},
		{"connect error object", `4{"message":"Not authorized","data":{"code":1}}`, nil, Packet{Type: ConnectError, Namespace: "/", Data: []byte(`{"message":"Not authorized","data":{"code":1}}`)}},
		{"connect error string", `4/admin,"Invalid namespace"`, nil, Packet{Type: ConnectError, Namespace: "/admin", Data: []byte(`"Invalid namespace"`)}},
		{"binary event", `51-["hello",{"_placeholder":true,"num":0}]`, [][]byte{{1, 2, 3}},
			Packet{Type: BinaryEvent, Namespace: "/", Data: []byte(`["hello",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2, 3}}}},
		{"binary event nsp id two", `52-/admin,7["up",{"_placeholder":true,"num":1},{"x":[{"num":0,"_placeholder":true}]}]`, [][]byte{{1}, {2, 2}},
			Packet{Type: BinaryEvent, Namespace: "/admin", ID: 7, HasID: true, Data: []byte(`["up",{"_placeholder":true,"num":1},{"x":[{"num":0,"_placeholder":true}]}]`), Attachments: [][]byte{{1}, {2, 2}}}},
		{"binary ack", `61-/admin,456[{"_placeholder":true,"num":0}]`, [][]byte{{}},
			Packet{Type: BinaryAck, Namespace: "/admin", ID: 456, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{}}}},
		{"binary zero attachments", `50-["x"]`, nil, Packet{Type: BinaryEvent, Namespace: "/", Data: []byte(`["x"]`)}},
		{"ten attachments", `510-["x"]`, make([][]byte, 10), Packet{Type: BinaryEvent, Namespace: "/", Data: []byte(`["x"]`), Attachments: make([][]byte, 10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			p, err := decodeAll(t, &d, tt.text, tt.atts...)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.text, err)
			}
			if p == nil {
				t.Fatalf("Decode(%q): no packet", tt.text)
			}
			if d.Pending() {
				t.Fatal("Pending after completion")
			}
			if !reflect.DeepEqual(normalize(*p), normalize(tt.want)) {
				t.Fatalf("Decode(%q)\n got %+v\nwant %+v", tt.text, *p, tt.want)
			}
			if got := string(p.Append(nil)); got != tt.text {
				t.Fatalf("Append = %q, want %q", got, tt.text)
			}
		})
	}
}

func normalize(p Packet) Packet {
	if len(p.Attachments) == 0 {
		p.Attachments = nil
	}
	for i, a := range p.Attachments {
		if a == nil {
			p.Attachments[i] = []byte{}
		}
	}
	return p
}

// Placeholders follow socket.io-parser's reconstructPacket: only an object
// whose "_placeholder" is exactly true is one, and nothing inside it is
// looked at.
func TestDecodePlaceholders(t *testing.T) {
	for _, text := range []string{
		`52-["a",{"num":0,"x":{"_placeholder":true,"num":7},"_placeholder":true}]`,
		`52-["a",{"\u005fplaceholder":true,"num":0,"extra":[{"_placeholder":true}]}]`,
		`52-["a",{"_placeholder":true,"num":1e0},{"_placeholder":true,"num":-0},{"_placeholder":1}]`,
	} {
		t.Run(text, func(t *testing.T) {
			var d Decoder
			p, err := decodeAll(t, &d, text, []byte{1}, []byte{2})
			if err != nil || p == nil {
				t.Fatalf("Decode: %v, %v", p, err)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name, text string
		want       Packet
	}{
		{"nsp without comma", "0/admin", Packet{Type: Connect, Namespace: "/admin"}},
		{"whitespace around json", "2 [\"a\" , 1 ] \n", Packet{Type: Event, Namespace: "/", Data: []byte(`["a" , 1 ]`)}},
		{"escaped name", `2["\u0063onnectx"]`, Packet{Type: Event, Namespace: "/", Data: []byte(`["\u0063onnectx"]`)}},
		{"negative name", `2[-1.5e3]`, Packet{Type: Event, Namespace: "/", Data: []byte(`[-1.5e3]`)}},
		{"non-placeholder object in plain event", `2["a",{"_placeholder":true,"num":9}]`, Packet{Type: Event, Namespace: "/", Data: []byte(`["a",{"_placeholder":true,"num":9}]`)}},
		{"falsy placeholder", `50-["a",{"_placeholder":false,"num":9}]`, Packet{Type: BinaryEvent, Namespace: "/", Data: []byte(`["a",{"_placeholder":false,"num":9}]`)}},
		{"truthy but not true placeholder", `50-["a",{"_placeholder":1,"num":9},{"_placeholder":"x"}]`, Packet{Type: BinaryEvent, Namespace: "/", Data: []byte(`["a",{"_placeholder":1,"num":9},{"_placeholder":"x"}]`)}},
		{"empty nsp", "0/,", Packet{Type: Connect, Namespace: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			p, err := d.Decode([]byte(tt.text))
			if err != nil || p == nil {
				t.Fatalf("Decode(%q) = %v, %v", tt.text, p, err)
			}
			if !reflect.DeepEqual(*p, tt.want) {
				t.Fatalf("got %+v, want %+v", *p, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	tests := []struct {
		name, text string
		limits     Limits
		want       string // substring of the error
	}{
		{"empty", "", Limits{}, "empty"},
		{"unknown type", "7", Limits{}, "unknown packet type"},
		{"letter type", "x", Limits{}, "unknown packet type"},
		{"connect array", `0["a"]`, Limits{}, "CONNECT"},
		{"connect string", `0"a"`, Limits{}, "CONNECT"},
		{"connect null", `0null`, Limits{}, "CONNECT"},
		{"disconnect data", `1{}`, Limits{}, "DISCONNECT"},
		{"connect error array", `4[]`, Limits{}, "CONNECT_ERROR"},
		{"connect error missing", `4`, Limits{}, "CONNECT_ERROR"},
		{"event missing", `2`, Limits{}, "EVENT"},
		{"event object", `2{}`, Limits{}, "EVENT"},
		{"event empty", `2[]`, Limits{}, "empty"},
		{"event bool name", `2[true]`, Limits{}, "string or a number"},
		{"event object name", `2[{}]`, Limits{}, "string or a number"},
		{"reserved connect", `2["connect"]`, Limits{}, "reserved"},
		{"reserved connect_error", `2["connect_error"]`, Limits{}, "reserved"},
		{"reserved disconnect", `2["disconnect"]`, Limits{}, "reserved"},
		{"reserved disconnecting", `2["disconnecting"]`, Limits{}, "reserved"},
		{"reserved newListener", `2["newListener",1]`, Limits{}, "reserved"},
		{"reserved removeListener", `2["removeListener"]`, Limits{}, "reserved"},
		{"reserved escaped", `2["\u0064isconnect"]`, Limits{}, "reserved"},
		{"reserved binary", `51-["connect",{"_placeholder":true,"num":0}]`, Limits{}, "reserved"},
		{"ack object", `31{}`, Limits{}, "ACK"},
		{"ack missing", `31`, Limits{}, "ACK"},
		{"id overflow", `318446744073709551616[]`, Limits{}, "overflow"},
		{"garbage after json", `2["a"]x`, Limits{}, "after the value"},
		{"two values", `2["a"] ["b"]`, Limits{}, "after the value"},
		{"invalid json", `2["a",]`, Limits{}, "unexpected"},
		{"unterminated", `2["a"`, Limits{}, "end of input"},
		{"unterminated string", `2["a`, Limits{}, "unterminated"},
		{"bad literal", `2["a",tru]`, Limits{}, "literal"},
		{"bad number", `2["a",01]`, Limits{}, "unexpected"},
		{"bad number dot", `2["a",1.]`, Limits{}, "number"},
		{"bad number exp", `2["a",1e]`, Limits{}, "number"},
		{"bad escape", `2["a\x"]`, Limits{}, "escape"},
		{"bad unicode escape", `2["a\u12G4"]`, Limits{}, "escape"},
		{"control char", "2[\"a\nb\"]", Limits{}, "control"},
		{"invalid utf8", "2[\"a\xffb\"]", Limits{}, "UTF-8"},
		{"invalid utf8 surrogate", "2[\"\xed\xa0\x80\"]", Limits{}, "UTF-8"},
		{"invalid utf8 nsp", "0/\xff,", Limits{}, "UTF-8"},
		{"single quotes", `2['a']`, Limits{}, "unexpected"},
		{"missing colon", `0{"a" 1}`, Limits{}, "':'"},
		{"bare key", `0{a:1}`, Limits{}, "object key"},
		{"trailing comma object", `0{"a":1,}`, Limits{}, "object key"},
		{"mismatched bracket", `2["a"}`, Limits{}, "in array"},
		{"deep array", "2" + deep, Limits{}, "deeper than 100"},
		{"depth 101", "3" + strings.Repeat("[", 101) + strings.Repeat("]", 101), Limits{}, "deeper than 100"},
		{"depth limit", `2["a",[[1]]]`, Limits{MaxDepth: 2}, "deeper than 2"},
		{"deep object", "0" + strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), Limits{}, "deeper"},
		{"too many attachments", `511-["a"]`, Limits{}, "more than 10"},
		{"huge attachment count", `599999999999999999999999-["a"]`, Limits{}, "more than 10"},
		{"attachment limit", `53-["a"]`, Limits{MaxAttachments: 2}, "more than 2"},
		{"attachments no dash", `51["a"]`, Limits{}, "attachment count"},
		{"attachments empty", `5-["a"]`, Limits{}, "attachment count"},
		{"attachments only", `5`, Limits{}, "attachment count"},
		{"placeholder out of range", `51-["a",{"_placeholder":true,"num":1}]`, Limits{}, "placeholder"},
		{"placeholder negative", `51-["a",{"_placeholder":true,"num":-1}]`, Limits{}, "placeholder"},
		{"placeholder no num", `51-["a",{"_placeholder":true}]`, Limits{}, "placeholder"},
		{"placeholder float num", `51-["a",{"_placeholder":true,"num":0.5}]`, Limits{}, "placeholder"},
		{"placeholder string num", `51-["a",{"_placeholder":true,"num":"0"}]`, Limits{}, "placeholder"},
		{"placeholder nested", `62-[[{"x":{"_placeholder":true,"num":2}}]]`, Limits{}, "placeholder"},
		{"placeholder nested after a valid one", `62-[[{"_placeholder":true,"num":1},{"x":[{"_placeholder":true,"num":2}]}]]`, Limits{}, "placeholder"},
		{"placeholder inside a non-placeholder", `51-["a",{"_placeholder":false,"x":{"_placeholder":true,"num":3}}]`, Limits{}, "placeholder"},
		{"placeholder first of two invalid", `51-["a",{"x":{"_placeholder":true}},{"_placeholder":true,"num":9}]`, Limits{}, "placeholder"},
		{"placeholder zero count", `50-["a",{"_placeholder":true,"num":0}]`, Limits{}, "placeholder"},
		{"placeholder duplicate key", `51-["a",{"_placeholder":false,"num":5,"_placeholder":true}]`, Limits{}, "placeholder"},
		{"placeholder escaped key", `51-["a",{"\u005fplaceholder":true,"n\u0075m":3}]`, Limits{}, "placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{Limits: tt.limits}
			p, err := d.Decode([]byte(tt.text))
			if err == nil {
				t.Fatalf("Decode(%.60q) = %+v, want error", tt.text, p)
			}
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if d.Pending() {
				t.Fatal("Pending after an error")
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	// Within a generous limit the 10,000-deep array is valid; the scanner
	// must not recurse.
	deep := "2[\"a\"," + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "]"
	d := Decoder{Limits: Limits{MaxDepth: 20000}}
	p, err := d.Decode([]byte(deep))
	if err != nil || p == nil {
		t.Fatalf("Decode deep = %v, %v", p, err)
	}
	d = Decoder{Limits: Limits{MaxDepth: 10000}}
	if _, err := d.Decode([]byte(deep)); err == nil {
		t.Fatal("10,001 levels accepted with MaxDepth 10000")
	}
}

func TestBinarySequence(t *testing.T) {
	t.Run("attachment without packet", func(t *testing.T) {
		var d Decoder
		if _, err := d.AddAttachment([]byte{1}); !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("text while pending", func(t *testing.T) {
		var d Decoder
		if p, err := d.Decode([]byte(`52-["a",{"_placeholder":true,"num":0}]`)); p != nil || err != nil {
			t.Fatalf("Decode = %v, %v", p, err)
		}
		if !d.Pending() {
			t.Fatal("not pending")
		}
		if _, err := d.AddAttachment([]byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode([]byte(`2["a"]`)); !errors.Is(err, ErrInvalidPacket) || !strings.Contains(err.Error(), "waits for attachments") {
			t.Fatalf("err = %v", err)
		}
		if d.Pending() {
			t.Fatal("still pending after the error")
		}
		// The decoder is usable again.
		if p, err := d.Decode([]byte(`2["a"]`)); p == nil || err != nil {
			t.Fatalf("Decode after reset = %v, %v", p, err)
		}
	})
	t.Run("extra attachment", func(t *testing.T) {
		var d Decoder
		if _, err := decodeAll(t, &d, `61-[{"_placeholder":true,"num":0}]`, []byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.AddAttachment([]byte{2}); !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("two binary packets in a row", func(t *testing.T) {
		var d Decoder
		for i := range 3 {
			a := []byte{byte(i)}
			p, err := decodeAll(t, &d, `61-/x,9[{"_placeholder":true,"num":0}]`, a)
			if err != nil || p == nil {
				t.Fatalf("round %d: %v, %v", i, p, err)
			}
			if got, ok := Attachment(mustSplit(t, p.Data)[0], p.Attachments); !ok || !bytes.Equal(got, a) {
				t.Fatalf("round %d: attachment %v, %v", i, got, ok)
			}
		}
	})
}

func mustSplit(t testing.TB, data []byte) [][]byte {
	t.Helper()
	elems, err := SplitArray(data)
	if err != nil {
		t.Fatalf("SplitArray(%s): %v", data, err)
	}
	return elems
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"empty namespace is root", Packet{Type: Event, Data: []byte(`["a"]`)}, `2["a"]`},
		{"binary count from attachments", Packet{Type: BinaryAck, Namespace: "/n", ID: 0, HasID: true, Data: []byte(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1}, {2}}},
			`62-/n,0[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{"connect error", Packet{Type: ConnectError, Namespace: "/", Data: AppendString(nil, "Invalid namespace")}, `4"Invalid namespace"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.p.Append(nil)); got != tt.want {
				t.Fatalf("Append = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	tests := []string{
		"", "hello", `quote " backslash \ slash /`, "tab\tnl\ncr\r\b\f\x00\x1f\x7f",
		"<script>&</script>", "héllo 😀", "\u2028\u2029", "bad \xff utf8 \xc3",
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			got := AppendString([]byte("x"), s)
			if got[0] != 'x' {
				t.Fatal("dst prefix lost")
			}
			got = got[1:]
			if err := scanJSON(got, 10, -1); err != nil {
				t.Fatalf("AppendString(%q) = %s: invalid JSON: %v", s, got, err)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			want := strings.ToValidUTF8(s, "\uFFFD")
			if back != want {
				t.Fatalf("round trip %q -> %s -> %q", s, got, back)
			}
			if bytes.Contains(got, []byte(`\u003c`)) {
				t.Fatalf("HTML escaped: %s", got)
			}
			if b := AppendStringBytes(nil, []byte(s)); !bytes.Equal(b, got) {
				t.Fatalf("AppendStringBytes(%q) = %s, want %s", s, b, got)
			}
			in, buf := []byte(s), make([]byte, 0, 64)
			if n := testing.AllocsPerRun(10, func() { buf = AppendStringBytes(buf[:0], in) }); n != 0 {
				t.Fatalf("AppendStringBytes allocates %v times", n)
			}
		})
	}
}

func TestPlainWord(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	check := func(w [8]byte) {
		t.Helper()
		want := true
		for _, c := range w {
			if special(c) {
				want = false
			}
		}
		v := uint64(0)
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(w[i])
		}
		if got := plainWord(v); got != want {
			t.Fatalf("plainWord(% x) = %v, want %v", w, got, want)
		}
	}
	// Every byte value at every position, among fillers that provoke borrows.
	for _, fill := range []byte{'x', 0x00, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x80, 0xff} {
		for p := range 8 {
			for c := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[p] = byte(c)
				check(w)
			}
		}
	}
	// Pseudo-random words over the interesting bytes.
	set := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'x'}
	x := uint64(1)
	for range 200000 {
		var w [8]byte
		for i := range w {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			w[i] = set[x%uint64(len(set))]
		}
		check(w)
	}
}

func TestNamespaceCache(t *testing.T) {
	var d Decoder
	for _, nsp := range []string{"/a", "/b", "/a", "/", "/a"} {
		text := []byte(`0` + nsp + `,`)
		p, err := d.Decode(text)
		if err != nil {
			t.Fatal(err)
		}
		text[1] = 'X' // the namespace must not alias the input
		if p.Namespace != nsp {
			t.Fatalf("Namespace = %q, want %q", p.Namespace, nsp)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "Type(7)"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, w)
		}
	}
}

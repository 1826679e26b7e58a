package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seed corpus shared by the fuzz targets, beyond the files committed under
// testdata/fuzz.
var fuzzPackets = []string{
	"0", `0{"token":"abc"}`, "0/admin,", `0/admin,{"a":1}`, "1", "1/admin,",
	`2["hello",1]`, `212["hello"]`, `2 [ "a" , [1,{"b":[2]}] ,"x" , {} ] `, `3[[],{"a":1}]`, `2/admin,456["project:delete",123]`, `2[42]`,
	`2["n",9007199254740993,{"b":1,"a":[true,false,null]}]`, `3/admin,456[]`,
	`4{"message":"Not authorized"}`, `4"Invalid namespace"`,
	`51-["hello",{"_placeholder":true,"num":0}]`,
	`62-/admin,7[{"_placeholder":true,"num":1},{"x":{"num":0,"_placeholder":true}}]`,
	`50-["x"]`, `2["connect"]`, `2["a"]x`, "2[\"\xff\"]", `318446744073709551616[]`,
	"2" + strings.Repeat("[", 200), `2["\u00e9\ud83d\ude00"]`,
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzPackets {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		var d Decoder
		p, err := d.Decode(text)
		checkDecodeElements(t, text, p, err)
		if err != nil || p == nil {
			return
		}
		checkReencode(t, p)
	})
}

// checkDecodeElements checks DecodeElements against Decode (p, err) and,
// for an array, its elements against SplitArray's.
func checkDecodeElements(t *testing.T, text []byte, p *Packet, err error) {
	t.Helper()
	var d Decoder
	var q Packet
	pre := [][]byte{[]byte("before")}
	done, elems, qerr := d.DecodeElements(text, &q, pre)
	if (qerr == nil) != (err == nil) || done != (p != nil) {
		t.Fatalf("DecodeElements(%q) = %v, %v; Decode: %v, %v", text, done, qerr, p != nil, err)
	}
	if !done {
		if len(elems) != 1 {
			t.Fatalf("DecodeElements(%q) changed elems: %q", text, elems)
		}
		return
	}
	if !reflect.DeepEqual(*p, q) {
		t.Fatalf("DecodeElements(%q) packet %+v, Decode %+v", text, q, *p)
	}
	want := pre
	if len(q.Data) > 0 && q.Data[0] == '[' {
		split, err := SplitArray(q.Data)
		if err != nil {
			t.Fatalf("SplitArray(%q): %v", q.Data, err)
		}
		want = append(want, split...)
	}
	if len(elems) != len(want) {
		t.Fatalf("DecodeElements(%q) elements %q, want %q", text, elems, want)
	}
	for i := range want {
		if !bytes.Equal(elems[i], want[i]) {
			t.Fatalf("DecodeElements(%q) elements %q, want %q", text, elems, want)
		}
	}
}

// FuzzDecodeBinary feeds a packet and up to three attachments.
func FuzzDecodeBinary(f *testing.F) {
	for _, s := range fuzzPackets {
		f.Add([]byte(s), uint8(2), []byte{1, 2, 3}, []byte{})
	}
	f.Fuzz(func(t *testing.T, text []byte, n uint8, a, b []byte) {
		var d Decoder
		p, err := d.Decode(text)
		if err != nil {
			return
		}
		atts := [][]byte{a, b, a}[:n%4]
		for i := 0; p == nil && i < len(atts); i++ {
			if p, err = d.AddAttachment(atts[i]); err != nil {
				t.Fatalf("AddAttachment %d: %v", i, err)
			}
		}
		if p == nil {
			if !d.Pending() {
				t.Fatal("no packet and nothing pending")
			}
			// A text packet now is a protocol error.
			if _, err := d.Decode([]byte("0")); err == nil {
				t.Fatal("text packet accepted while pending")
			}
			return
		}
		if d.Pending() {
			t.Fatal("pending after completion")
		}
		checkReencode(t, p)
		if p.Type == BinaryEvent || p.Type == BinaryAck {
			elems, err := SplitArray(p.Data)
			if err != nil {
				t.Fatalf("SplitArray of decoded data: %v", err)
			}
			for _, e := range elems {
				Attachment(e, p.Attachments)
			}
		}
	})
}

// checkReencode checks that encode(decode(x)) decodes to the same packet.
func checkReencode(t *testing.T, p *Packet) {
	t.Helper()
	text := p.Append(nil)
	var d Decoder
	q, err := d.Decode(text)
	for i := 0; err == nil && q == nil && i < len(p.Attachments); i++ {
		q, err = d.AddAttachment(p.Attachments[i])
	}
	if err != nil || q == nil {
		t.Fatalf("re-decode of %q: %v, %v", text, q, err)
	}
	if !reflect.DeepEqual(normalize(*p), normalize(*q)) {
		t.Fatalf("round trip changed the packet\n got %+v\nwant %+v", *q, *p)
	}
	if p.Type == Event || p.Type == BinaryEvent {
		if _, _, err := SplitEvent(p.Data); err != nil {
			t.Fatalf("SplitEvent of a valid event %q: %v", p.Data, err)
		}
	}
}

// FuzzScanJSON checks the validator against encoding/json (which does not
// check UTF-8, and nests at most 10000 deep).
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{`[]`, `{}`, `"a"`, `1`, `-0.5e+3`, `[1,{"a":[null,true]}]`, ` [ ] `, `[1,]`, `01`, `"\u12"`, "\"\x01\"", `{"a"}`} {
		f.Add([]byte(s))
	}
	for _, s := range []string{`[{"_placeholder":true,"num":0}]`, `{"x":{"num":1,"_placeholder":true,"y":{"_placeholder":true}}}`,
		`[{"\u005fplaceholder":true,"num":2}]`, `[{"_placeholder":1,"num":9}]`, `[{"_placeholder":true,"num":1e0}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := scanJSON(data, 10000, -1)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("scanJSON accepts %q, encoding/json does not", data)
		}
		if err != nil && valid && utf8.Valid(data) {
			t.Fatalf("scanJSON rejects %q: %v", data, err)
		}
		if err != nil {
			return
		}
		// Placeholders: a port of socket.io-parser's reconstructPacket over
		// encoding/json's tree (which, like JSON.parse, unescapes keys and
		// keeps the last of duplicates) is the reference.
		var tree any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if d.Decode(&tree) != nil {
			return
		}
		const attachments = 2
		want := reconstructOK(tree, attachments)
		if got := scanJSON(data, 10000, attachments); (got == nil) != want {
			t.Fatalf("scanJSON(%q, 2 attachments) = %v, reconstructPacket accepts: %v", data, got, want)
		}
	})
}

// reconstructOK reports whether socket.io-parser 4.2's reconstructPacket
// accepts v with n attachments: every object it meets whose _placeholder is
// exactly true has a numeric num in [0, n), and it does not descend into
// those. (A fractional num, which it resolves to undefined, counts as
// rejected here, as the Decoder rejects it.)
func reconstructOK(v any, n int) bool {
	switch v := v.(type) {
	case map[string]any:
		if v["_placeholder"] == true {
			num, ok := v["num"].(json.Number)
			if !ok {
				return false
			}
			f, err := num.Float64()
			return err == nil && f >= 0 && f < float64(n) && f == float64(int(f))
		}
		for _, e := range v {
			if !reconstructOK(e, n) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !reconstructOK(e, n) {
				return false
			}
		}
	}
	return true
}

func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, `["a",1,{"b":[2]}]`, ` [ "\"]" , [ ] ] `, `[1,`, `["\`, `[}`, `[1]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		elems, err := SplitArray(data)
		if scanJSON(data, 10000, -1) != nil {
			return // only no panic is promised
		}
		var want []json.RawMessage
		if json.Unmarshal(data, &want) != nil {
			if err == nil {
				t.Fatalf("SplitArray accepts non-array %q", data)
			}
			return
		}
		if err != nil {
			t.Fatalf("SplitArray(%q): %v", data, err)
		}
		if len(elems) != len(want) {
			t.Fatalf("SplitArray(%q) = %d elements, want %d", data, len(elems), len(want))
		}
		for i := range elems {
			if !bytes.Equal(elems[i], want[i]) {
				t.Fatalf("element %d = %q, want %q", i, elems[i], want[i])
			}
		}
		if name, args, err := SplitEvent(data); err == nil {
			// UseNumber: an event name may be any JSON number, even one
			// out of float64's range (testdata/fuzz/FuzzSplitArray).
			var first any
			dec := json.NewDecoder(bytes.NewReader(elems[0]))
			dec.UseNumber()
			if dec.Decode(&first) != nil {
				t.Fatal("unreadable first element")
			}
			if s, ok := first.(string); ok && s != name {
				t.Fatalf("SplitEvent name %q, encoding/json %q", name, s)
			}
			if len(args) != len(elems)-1 {
				t.Fatal("SplitEvent args count")
			}
		}
	})
}

func FuzzAttachment(f *testing.F) {
	for _, s := range []string{`{"_placeholder":true,"num":0}`, `{"num":1,"_placeholder":true}`, `{"_placeholder":true,"num":`, `{"a":{"_placeholder":true,"num":0}}`,
		`{"\u005fplaceholder":true,"num":1.0}`, `{"_placeholder":1,"num":0}`, `{"_placeholder":true,"num":0,"_placeholder":false}`} {
		f.Add([]byte(s))
	}
	atts := [][]byte{{0}, {1}}
	f.Fuzz(func(t *testing.T, elem []byte) {
		b, ok := Attachment(elem, atts)
		if !ok {
			return
		}
		var m map[string]any
		if scanJSON(elem, 10000, -1) != nil || json.Unmarshal(elem, &m) != nil {
			t.Fatalf("Attachment(%q) resolved invalid JSON", elem) // invalid JSON is never a placeholder
		}
		num, isNum := m["num"].(float64)
		want := m["_placeholder"] == true && isNum && num >= 0 && num < float64(len(atts)) && num == float64(int(num))
		if ok != want || (ok && b[0] != byte(num)) {
			t.Fatalf("Attachment(%q) = %v, %v; encoding/json reads %v", elem, b, ok, m)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n\x00", "é😀", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		if err := scanJSON(out, 1, -1); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, out, err)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
		if name, err := EventName(AppendEvent(nil, s)); err != nil || (utf8.ValidString(s) && name != s) {
			t.Fatalf("EventName(AppendEvent(%q)) = %q, %v", s, name, err)
		}
		if b := AppendStringBytes(nil, []byte(s)); !bytes.Equal(b, out) {
			t.Fatalf("AppendStringBytes(%q) = %s, AppendString gives %s", s, b, out)
		}
		if u := AppendUnquoted(nil, out[1:len(out)-1]); utf8.ValidString(s) && string(u) != s {
			t.Fatalf("AppendUnquoted(%s) = %q", out, u)
		}
	})
}

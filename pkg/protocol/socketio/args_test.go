package socketio

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSplitArray(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		wantErr  bool
	}{
		{"empty", `[]`, nil, false},
		{"empty spaced", " [ ] ", nil, false},
		{"scalars", `["a",1,-2.5e3,true,false,null]`, []string{`"a"`, `1`, `-2.5e3`, `true`, `false`, `null`}, false},
		{"nested", `[{"a":[1,2,{"b":"]"}]},[[],[{}]],"x\"]"]`, []string{`{"a":[1,2,{"b":"]"}]}`, `[[],[{}]]`, `"x\"]"`}, false},
		{"spaces", " [ 1 ,\n\t\"a\" , [ ] ] ", []string{`1`, `"a"`, `[ ]`}, false},
		{"exact number", `[9007199254740993]`, []string{`9007199254740993`}, false},
		{"not array", `{"a":1}`, nil, true},
		{"nothing", ``, nil, true},
		{"unterminated", `[1,2`, nil, true},
		{"unterminated nested", `[[1,2]`, nil, true},
		{"unterminated string", `["a]`, nil, true},
		{"trailing comma", `[1,]`, nil, true},
		{"leading comma", `[,1]`, nil, true},
		{"missing comma", `[1 2]`, nil, true},
		{"garbage after", `[1]x`, nil, true},
		{"lone backslash", `["\`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitArray([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("SplitArray(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
				}
				return
			}
			var gotS []string
			for _, e := range got {
				gotS = append(gotS, string(e))
			}
			if !reflect.DeepEqual(gotS, tt.want) {
				t.Fatalf("SplitArray(%q) = %q, want %q", tt.in, gotS, tt.want)
			}
		})
	}
}

func TestAppendElementsReuse(t *testing.T) {
	buf := make([][]byte, 0, 8)
	for range 3 {
		elems, err := AppendElements(buf[:0], []byte(`["a",1,2]`))
		if err != nil || len(elems) != 3 {
			t.Fatalf("AppendElements = %q, %v", elems, err)
		}
		if &elems[0] != &buf[:1][0] {
			t.Fatal("dst not reused")
		}
	}
}

func TestEventName(t *testing.T) {
	tests := []struct {
		name, in, want string
		args           []string
		wantErr        bool
	}{
		{"plain", `["hello",1,{"a":2}]`, "hello", []string{`1`, `{"a":2}`}, false},
		{"no args", `["hello"]`, "hello", nil, false},
		{"escaped", `["a\"b\\c\u00e9\ud83d\ude00\n"]`, "a\"b\\cé😀\n", nil, false},
		{"lone surrogate", `["\ud800x"]`, "\uFFFDx", nil, false},
		{"unicode raw", `["héllo"]`, "héllo", nil, false},
		{"number", `[42,"x"]`, "42", []string{`"x"`}, false},
		{"spaces", ` [ "a" , 1 ] `, "a", []string{`1`}, false},
		{"empty", `[]`, "", nil, true},
		{"object", `{}`, "", nil, true},
		{"bool", `[true]`, "", nil, true},
		{"nested", `[["a"]]`, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, err := EventName([]byte(tt.in))
			if (err != nil) != tt.wantErr || name != tt.want {
				t.Fatalf("EventName(%q) = %q, %v; want %q, err %v", tt.in, name, err, tt.want, tt.wantErr)
			}
			name, args, err := SplitEvent([]byte(tt.in))
			if (err != nil) != tt.wantErr || name != tt.want {
				t.Fatalf("SplitEvent(%q) = %q, %v; want %q, err %v", tt.in, name, err, tt.want, tt.wantErr)
			}
			var got []string
			for _, a := range args {
				got = append(got, string(a))
			}
			if !reflect.DeepEqual(got, tt.args) {
				t.Fatalf("SplitEvent(%q) args = %q, want %q", tt.in, got, tt.args)
			}
		})
	}
}

func TestAttachment(t *testing.T) {
	atts := [][]byte{[]byte("zero"), []byte("one")}
	tests := []struct {
		name, elem string
		want       string
		ok         bool
	}{
		{"first", `{"_placeholder":true,"num":0}`, "zero", true},
		{"second reordered", ` { "num" : 1 , "_placeholder" : true } `, "one", true},
		{"escaped key", `{"\u005fplaceholder":true,"num":1}`, "one", true},
		{"truthy number is not true", `{"_placeholder":1,"num":0}`, "", false},
		{"truthy string is not true", `{"_placeholder":"true","num":0}`, "", false},
		{"truthy object is not true", `{"_placeholder":{},"num":0}`, "", false},
		{"escaped num key", `{"_placeholder":true,"n\u0075m":1}`, "one", true},
		{"num first, extra member", `{"num":0,"_placeholder":true,"x":1}`, "zero", true},
		{"exponent num", `{"_placeholder":true,"num":1e0}`, "one", true},
		{"minus zero num", `{"_placeholder":true,"num":-0}`, "zero", true},
		{"fraction num", `{"_placeholder":true,"num":0.5}`, "", false},
		{"last duplicate wins, false", `{"_placeholder":true,"num":0,"_placeholder":false}`, "", false},
		{"last duplicate wins, true", `{"_placeholder":false,"num":5,"_placeholder":true,"num":1}`, "one", true},
		{"extra member", `{"_placeholder":true,"num":0,"x":[1,{"y":2}]}`, "zero", true},
		{"out of range", `{"_placeholder":true,"num":2}`, "", false},
		{"negative", `{"_placeholder":true,"num":-1}`, "", false},
		{"integral float", `{"_placeholder":true,"num":0.0}`, "zero", true},
		{"string num", `{"_placeholder":true,"num":"0"}`, "", false},
		{"false", `{"_placeholder":false,"num":0}`, "", false},
		{"missing num", `{"_placeholder":true}`, "", false},
		{"not object", `[{"_placeholder":true,"num":0}]`, "", false},
		{"string", `"_placeholder"`, "", false},
		{"truncated", `{"_placeholder":true,"num":0`, "", false},
		{"empty", ``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Attachment([]byte(tt.elem), atts)
			if ok != tt.ok || string(got) != tt.want {
				t.Fatalf("Attachment(%q) = %q, %v; want %q, %v", tt.elem, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAppendEvent(t *testing.T) {
	got := AppendEvent([]byte("2"), "chat \"x\"", []byte(`"hi"`), []byte(`{"a":1}`), AppendPlaceholder(nil, 0))
	want := `2["chat \"x\"","hi",{"a":1},{"_placeholder":true,"num":0}]`
	if string(got) != want {
		t.Fatalf("AppendEvent = %s, want %s", got, want)
	}
	if got := string(AppendEvent(nil, "e")); got != `["e"]` {
		t.Fatalf("AppendEvent no args = %s", got)
	}
	if got := string(AppendArray(nil)); got != `[]` {
		t.Fatalf("AppendArray() = %s", got)
	}
	if got := string(AppendArray(nil, []byte(`1`), []byte(`"a"`))); got != `[1,"a"]` {
		t.Fatalf("AppendArray = %s", got)
	}
}

func TestMarshalArgs(t *testing.T) {
	type msg struct {
		Text string `json:"text"`
	}
	elems, atts, err := MarshalArgs([]any{
		"hi <b>", 42, json.RawMessage(`9007199254740993`), []byte{1, 2}, msg{"x"}, nil, []byte{}, map[string][]byte{"b": {1}},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"hi <b>"`, `42`, `9007199254740993`, `{"_placeholder":true,"num":3}`, `{"text":"x"}`, `null`,
		`{"_placeholder":true,"num":4}`, `{"b":"AQ=="}`}
	var got []string
	for _, e := range elems {
		got = append(got, string(e))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("elems = %q\nwant %q", got, want)
	}
	if len(atts) != 2 || string(atts[0]) != "\x01\x02" || len(atts[1]) != 0 {
		t.Fatalf("attachments = %q", atts)
	}

	// The parts make a binary event that decodes.
	elems, atts, _ = MarshalArgs([]any{[]byte{9}, []byte{8}}, 0)
	p := Packet{Type: BinaryEvent, Data: AppendEvent(nil, "up", elems...), Attachments: atts}
	var d Decoder
	q, err := decodeAll(t, &d, string(p.Append(nil)), p.Attachments...)
	if err != nil {
		t.Fatal(err)
	}
	args := mustSplit(t, q.Data)[1:]
	for i, a := range args {
		b, ok := Attachment(a, q.Attachments)
		if !ok || b[0] != p.Attachments[i][0] {
			t.Fatalf("arg %d: %q, %v", i, b, ok)
		}
	}

	if _, _, err := MarshalArgs([]any{make(chan int)}, 0); err == nil || !strings.Contains(err.Error(), "argument 0") {
		t.Fatalf("unsupported type: err = %v", err)
	}
	if _, _, err := MarshalArgs([]any{json.RawMessage(nil)}, 0); err == nil {
		t.Fatal("empty RawMessage accepted")
	}
}

func TestAppendErrorData(t *testing.T) {
	if got := string(AppendErrorData(nil, "Invalid namespace", nil)); got != `{"message":"Invalid namespace"}` {
		t.Fatalf("got %s", got)
	}
	if got := string(AppendErrorData(nil, `bad "token"`, []byte(`{"code":401}`))); got != `{"message":"bad \"token\"","data":{"code":401}}` {
		t.Fatalf("got %s", got)
	}
}

func TestSplitEventTo(t *testing.T) {
	buf := make([][]byte, 1, 8)
	buf[0] = []byte("kept")
	raw, args, err := SplitEventTo(buf, []byte(`["m\u0073g", 1 ,{"a":[2]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `"m\u0073g"` || len(args) != 2 || string(args[0]) != "1" || string(args[1]) != `{"a":[2]}` {
		t.Fatalf("raw %s args %q", raw, args)
	}
	if name, err := RawEventName(raw); name != "msg" || err != nil {
		t.Errorf("RawEventName: %q %v", name, err)
	}
	if name, err := RawEventName([]byte("42")); name != "42" || err != nil {
		t.Errorf("RawEventName(42): %q %v", name, err)
	}
	if string(buf[0]) != "kept" {
		t.Errorf("dst's own elements changed: %q", buf[0])
	}
	for _, bad := range []string{`[]`, `[{"a":1}]`, `{}`, `[1`, ``} {
		if _, _, err := SplitEventTo(nil, []byte(bad)); !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("SplitEventTo(%s): %v", bad, err)
		}
	}
	if _, err := RawEventName(nil); !errors.Is(err, ErrInvalidPacket) {
		t.Errorf("RawEventName(nil): %v", err)
	}
	data := []byte(`["x",1,2]`)
	if n := testing.AllocsPerRun(10, func() { SplitEventTo(buf[:0], data) }); n != 0 {
		t.Errorf("SplitEventTo allocates %v times", n)
	}
}

func TestDecodeInto(t *testing.T) {
	var d Decoder
	p := Packet{Data: []byte("stale"), Attachments: [][]byte{nil}}
	done, err := d.DecodeInto([]byte(`2/chat,12["x",1]`), &p)
	if !done || err != nil || p.Type != Event || p.Namespace != "/chat" || p.ID != 12 || !p.HasID ||
		string(p.Data) != `["x",1]` || p.Attachments != nil {
		t.Fatalf("DecodeInto: %v %v %+v", done, err, p)
	}
	// A binary packet waits in the Decoder, not in p.
	done, err = d.DecodeInto([]byte(`51-["b",{"_placeholder":true,"num":0}]`), &p)
	if done || err != nil {
		t.Fatalf("binary DecodeInto: %v %v", done, err)
	}
	p.Data = nil
	q, err := d.AddAttachment([]byte{7})
	if err != nil || q == nil || string(q.Data) != `["b",{"_placeholder":true,"num":0}]` || len(q.Attachments) != 1 {
		t.Fatalf("AddAttachment: %v %+v", err, q)
	}
	if done, err = d.DecodeInto([]byte(`9`), &p); done || !errors.Is(err, ErrInvalidPacket) {
		t.Errorf("bad packet: %v %v", done, err)
	}
	text := []byte(`2["x",{"a":1}]`)
	if n := testing.AllocsPerRun(10, func() { d.DecodeInto(text, &p) }); n != 0 {
		t.Errorf("DecodeInto allocates %v times", n)
	}
}

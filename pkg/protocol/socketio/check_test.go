package socketio

import (
	"fmt"
	"testing"
)

func TestCheckPayload(t *testing.T) {
	tests := []struct {
		name string
		t    Type
		data string
		atts int
		ok   bool
	}{
		{"event", Event, `["news",1,{"a":[2]}]`, 0, true},
		{"binary event", BinaryEvent, `["file",{"_placeholder":true,"num":0}]`, 1, true},
		{"placeholder past the attachments", BinaryEvent, `["file",{"_placeholder":true,"num":1}]`, 1, false},
		{"placeholder without attachments", Event, `["file",{"_placeholder":true,"num":0}]`, 0, false},
		{"too many attachments", BinaryEvent, `["file"]`, 11, false},
		{"reserved name", Event, `["disconnect"]`, 0, false},
		{"no name", Event, `[]`, 0, false},
		{"not an array", Event, `{"a":1}`, 0, false},
		{"bad JSON", Event, `["a",]`, 0, false},
		{"trailing data", Event, `["a"] x`, 0, false},
		{"ack", Ack, `[1,"two"]`, 0, true},
		{"empty ack", Ack, `[]`, 0, true},
		{"ack not an array", Ack, `"x"`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPayload(tt.t, []byte(tt.data), tt.atts, Limits{})
			if (err == nil) != tt.ok {
				t.Errorf("CheckPayload(%s) = %v, want ok %v", tt.data, err, tt.ok)
			}
		})
	}
}

// FuzzCheckPayload: what CheckPayload accepts, the Decoder accepts as the
// same packet from a client.
func FuzzCheckPayload(f *testing.F) {
	for _, s := range []string{`["a",1]`, `["b",{"_placeholder":true,"num":0}]`, `[1,{"_placeholder":true,"num":2}]`, `["connect"]`, `[]`, `{"a":1}`, `["a",[[[]]]]`} {
		f.Add([]byte(s), uint8(1), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8, ack bool) {
		atts := int(n % 12)
		typ, text := Event, "2"
		if ack {
			typ, text = Ack, "3"
		}
		if err := CheckPayload(typ, data, atts, Limits{}); err != nil {
			return
		}
		if atts > 0 {
			text = fmt.Sprintf("%d%d-", typ+3, atts)
		}
		if ack {
			text += "7" // an ACK needs an id
		}
		var d Decoder
		if _, err := d.Decode(append([]byte(text), data...)); err != nil {
			t.Fatalf("CheckPayload accepts %q (%d attachments), Decode refuses %q: %v", data, atts, text, err)
		}
	})
}

package socketio

import "testing"

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

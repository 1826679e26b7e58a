package socketio_test

import (
	"fmt"

	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

func ExampleDecoder() {
	var d socketio.Decoder
	// A binary event arrives as a text message and then one binary message
	// per attachment.
	p, err := d.Decode([]byte(`51-/chat,7["upload","a.png",{"_placeholder":true,"num":0}]`))
	fmt.Println(p, err, d.Pending())
	p, err = d.AddAttachment([]byte{0x89, 'P', 'N', 'G'})
	if err != nil {
		panic(err)
	}
	name, args, _ := socketio.SplitEvent(p.Data)
	file, _ := socketio.Attachment(args[1], p.Attachments)
	fmt.Printf("%s %s id=%d %s %s %q\n", p.Namespace, name, p.ID, args[0], args[1], file)
	// Output:
	// <nil> <nil> true
	// /chat upload id=7 "a.png" {"_placeholder":true,"num":0} "\x89PNG"
}

func ExampleAppendEvent() {
	// Build and encode an event without intermediate allocations: the
	// arguments are raw JSON, kept byte for byte.
	var buf []byte
	data := socketio.AppendEvent(nil, "message", []byte(`{"n":9007199254740993}`), socketio.AppendString(nil, "hi"))
	p := socketio.Packet{Type: socketio.Event, Namespace: "/", ID: 3, HasID: true, Data: data}
	buf = p.Append(buf[:0])
	fmt.Println(string(buf))
	// Output:
	// 23["message",{"n":9007199254740993},"hi"]
}

func ExampleMarshalArgs() {
	elems, atts, err := socketio.MarshalArgs([]any{"file", []byte("raw"), map[string]int{"size": 3}}, 0)
	if err != nil {
		panic(err)
	}
	p := socketio.Packet{Type: socketio.Event, Data: socketio.AppendEvent(nil, "upload", elems...)}
	if len(atts) > 0 {
		p.Type, p.Attachments = socketio.BinaryEvent, atts
	}
	fmt.Println(string(p.Append(nil)), len(p.Attachments))
	// Output:
	// 51-["upload","file",{"_placeholder":true,"num":0},{"size":3}] 1
}

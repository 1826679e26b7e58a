package session

import (
	"fmt"
	"testing"
)

// TestBorrowedEvents checks the borrowing handlers (their Events are reused)
// against the owning ones (theirs never are), on both handler paths.
func TestBorrowedEvents(t *testing.T) {
	for _, inline := range []bool{false, true} {
		t.Run(fmt.Sprintf("inline=%v", inline), func(t *testing.T) { testBorrowedEvents(t, inline) })
	}
}

func testBorrowedEvents(t *testing.T, inline bool) {
	s := newTestServer(t, Config{InlineHandlers: inline})
	kept := make(chan *Event, 1)
	names := make(chan string, 10)
	setup := func(so *Socket) {
		so.OnBorrowed("echo", func(so *Socket, ev *Event) {
			if err := ev.AckElements(ev.Args(), ev.Attachments); err != nil {
				t.Errorf("AckElements: %v", err)
			}
		})
		// An owning handler keeps its Event and answers after returning.
		so.On("later", func(so *Socket, ev *Event) { kept <- ev })
		so.OnAnyBorrowed(func(so *Socket, ev *Event) {
			names <- ev.Name
			ev.AckRaw([]byte(`["any"]`), nil)
		})
	}
	s.OnConnection(setup)
	s.Of("/chat").OnConnection(setup)
	c := dial(t, s)
	connect(t, c, "/")
	connect(t, c, "/chat")

	c.recv(`21["echo","a",{"b":[1,2]},3]`)
	c.expect(t, `431["a",{"b":[1,2]},3]`)
	c.recv(`2/chat,7["echo"]`)
	c.expect(t, `43/chat,7[]`)
	c.recv(`22["echo",1,2,3,4,5,6,7,8]`) // more arguments than the Event holds inline
	c.expect(t, `432[1,2,3,4,5,6,7,8]`)
	c.recv(`51-3["echo",{"_placeholder":true,"num":0},"x"]`)
	c.recvBinary([]byte("z"))
	c.expect(t, `461-3[{"_placeholder":true,"num":0},"x"]`)
	if fr := c.next(t); !fr.Binary || string(fr.Data) != "z" {
		t.Fatalf("attachment %q", fr.Data)
	}

	c.recv(`24["later","keep",{"me":true}]`)
	ev := <-kept
	for i := range 5 { // borrowed events go through meanwhile
		c.recv(fmt.Sprintf(`2%d["other %d","y"]`, 10+i, i))
		c.expect(t, fmt.Sprintf(`43%d["any"]`, 10+i))
		if got := <-names; got != fmt.Sprintf("other %d", i) {
			t.Errorf("OnAnyBorrowed got %q", got)
		}
	}
	c.recv(`29["ech\u006f","z"]`) // an escaped name still finds its handler
	c.expect(t, `439["z"]`)
	if got := string(joinArgs(ev.Args())); ev.Name != "later" || got != `"keep",{"me":true}` {
		t.Fatalf("a kept Event changed: %q %s", ev.Name, got)
	}
	if err := ev.AckElements(ev.Args(), nil); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `434["keep",{"me":true}]`)
	if err := ev.AckRaw([]byte("[]"), nil); err != ErrAcked {
		t.Errorf("a second ack: %v", err)
	}
	if p := c.pending(); len(p) != 0 {
		t.Errorf("unexpected frames %q", p)
	}
}

package session

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// nopConn is a connection whose writes cost nothing: benchmarks measure
// the session layer alone.
type nopConn struct{ id string }

func (c *nopConn) ID() string                                     { return c.id }
func (c *nopConn) Transport() string                              { return "websocket" }
func (c *nopConn) Protocol() int                                  { return 4 }
func (c *nopConn) Send(frames []engineio.Frame, _ bool) error     { return nil }
func (c *nopConn) SendCopy(frames []engineio.Frame, _ bool) error { return nil }
func (c *nopConn) Enqueue(frames []engineio.Frame, _ bool) error  { return nil }
func (c *nopConn) Close(string)                                   {}

// BenchmarkBroadcast measures one local broadcast (encode once, select the
// recipients, hand the frames to every connection).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		s, err := newServer(Config{Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		joined := make(chan struct{}, n)
		s.OnConnection(func(so *Socket) {
			if so.ID()[0]%2 == 0 {
				so.Join("half")
			}
			joined <- struct{}{}
		})
		for i := range n {
			c := s.open(&nopConn{id: fmt.Sprint("c", i)}, &transport.Request{})
			c.onMessage([]byte("0"), false)
		}
		for range n {
			<-joined
		}
		b.Run(fmt.Sprintf("all/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Emit("message", "hello, world"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("room/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.To("half").Emit("message", "hello, world"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw-except/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			data := []byte(`["message","hello, world"]`)
			for b.Loop() {
				if err := s.Except("half").EmitRaw(data, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Shutdown(b.Context())
	}
}

// BenchmarkEvent measures receiving one event and acking it.
func BenchmarkEvent(b *testing.B) {
	s, err := newServer(Config{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(b.Context())
	done := make(chan struct{}, 1)
	s.OnConnection(func(so *Socket) {
		so.On("echo", func(so *Socket, ev *Event) {
			ev.Ack(json.RawMessage(ev.Args()[0]))
			done <- struct{}{}
		})
		done <- struct{}{}
	})
	c := s.open(&nopConn{id: "c"}, &transport.Request{})
	c.onMessage([]byte("0"), false)
	<-done
	b.ReportAllocs()
	for b.Loop() {
		c.onMessage([]byte(`21["echo","x"]`), false)
		<-done
	}
}

// BenchmarkEventAckRaw measures the gateway's echo path: receive one event
// and ack its raw arguments, on the socket's goroutine or inline, with a
// handler that owns the Event (On) or borrows it (OnBorrowed), and acking
// with AckRaw (the array built in a scratch buffer) or AckElements.
func BenchmarkEventAckRaw(b *testing.B) {
	for _, inline := range []bool{false, true} {
		for _, borrowed := range []bool{false, true} {
			b.Run(fmt.Sprintf("inline=%v/borrowed=%v", inline, borrowed), func(b *testing.B) {
				benchEcho(b, inline, borrowed, false)
			})
		}
	}
	b.Run("inline=true/borrowed=true/elements", func(b *testing.B) { benchEcho(b, true, true, true) })
	// What loadgen's echo sends: an id and 64 bytes of padding.
	b.Run("inline=true/borrowed=true/elements/loadgen", func(b *testing.B) {
		benchEchoMsg(b, true, true, true, []byte(`2123["echo",4567,"`+strings.Repeat("x", 64)+`"]`))
	})
}

func benchEcho(b *testing.B, inline, borrowed, elements bool) {
	benchEchoMsg(b, inline, borrowed, elements, []byte(`21["echo","x"]`))
}

func benchEchoMsg(b *testing.B, inline, borrowed, elements bool, msg []byte) {
	c, done := echoClient(b, inline, borrowed, elements)
	b.ReportAllocs()
	for b.Loop() {
		c.onMessage(msg, false)
		<-done
	}
}

// echoClient opens a client whose socket acks "echo" with its arguments;
// done gets a value after each ack.
func echoClient(tb testing.TB, inline, borrowed, elements bool) (*client, chan struct{}) {
	s, err := newServer(Config{Logger: quietLogger(), InlineHandlers: inline})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Shutdown(context.Background()) })
	done := make(chan struct{}, 1)
	var scratch []byte
	h := func(so *Socket, ev *Event) {
		var err error
		if elements {
			err = ev.AckElements(ev.Args(), ev.Attachments)
		} else {
			scratch = socketio.AppendArray(scratch[:0], ev.Args()...)
			err = ev.AckRaw(scratch, ev.Attachments)
		}
		if err != nil {
			panic(err)
		}
		done <- struct{}{}
	}
	s.OnConnection(func(so *Socket) {
		if borrowed {
			so.OnBorrowed("echo", h)
		} else {
			so.On("echo", h)
		}
		done <- struct{}{}
	})
	c := s.open(&nopConn{id: "c"}, &transport.Request{})
	c.onMessage([]byte("0"), false)
	<-done
	return c, done
}

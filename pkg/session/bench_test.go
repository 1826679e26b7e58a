package session

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/transport"
)

// nopConn is a connection whose writes cost nothing: benchmarks measure
// the session layer alone.
type nopConn struct{ id string }

func (c *nopConn) ID() string                                    { return c.id }
func (c *nopConn) Transport() string                             { return "websocket" }
func (c *nopConn) Protocol() int                                 { return 4 }
func (c *nopConn) Send(frames []engineio.Frame, _ bool) error    { return nil }
func (c *nopConn) Enqueue(frames []engineio.Frame, _ bool) error { return nil }
func (c *nopConn) Close(string)                                  {}

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
// and ack its raw arguments.
func BenchmarkEventAckRaw(b *testing.B) {
	for _, inline := range []bool{false, true} {
		b.Run(fmt.Sprintf("inline=%v", inline), func(b *testing.B) {
			s, err := newServer(Config{Logger: quietLogger(), InlineHandlers: inline})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown(b.Context())
			done := make(chan struct{}, 1)
			var scratch []byte
			s.OnConnection(func(so *Socket) {
				so.On("echo", func(so *Socket, ev *Event) {
					scratch = append(scratch[:0], '[')
					for i, a := range ev.Args() {
						if i > 0 {
							scratch = append(scratch, ',')
						}
						scratch = append(scratch, a...)
					}
					scratch = append(scratch, ']')
					ev.AckRaw(scratch, ev.Attachments)
					done <- struct{}{}
				})
				done <- struct{}{}
			})
			c := s.open(&nopConn{id: "c"}, &transport.Request{})
			c.onMessage([]byte("0"), false)
			<-done
			msg := []byte(`21["echo","x"]`)
			b.ReportAllocs()
			for b.Loop() {
				c.onMessage(msg, false)
				<-done
			}
		})
	}
}

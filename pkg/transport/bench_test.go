package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// collector is a Handler that keeps every opened Conn.
type collector struct {
	nopHandler
	mu    sync.Mutex
	conns []*Conn
}

func (h *collector) OnOpen(c *Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

// BenchmarkWebSocketFanout enqueues one shared frame to 1,000 websocket
// sessions per iteration, as a broadcast does, and waits until every client
// has read everything. Reported: ns per delivery (ns/op divided by 1,000 is
// in the delivery/op metric's inverse).
//
//	go test -run '^$' -bench WebSocketFanout -benchmem -benchtime=200x ./pkg/transport/
func BenchmarkWebSocketFanout(b *testing.B) {
	const n = 1000
	h := &collector{}
	srv, err := NewServer(Config{Handler: h})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	addr := ln.Addr().String()

	var read atomic.Int64
	var clients sync.WaitGroup
	var ncs []net.Conn
	req := "GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for i := 0; i < n; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.WriteString(nc, req)
		br := bufio.NewReader(nc)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			b.Fatal(err)
		}
		ncs = append(ncs, nc)
		clients.Go(func() {
			buf := make([]byte, 32<<10)
			for {
				m, err := br.Read(buf)
				read.Add(int64(m))
				if err != nil {
					return
				}
			}
		})
	}
	// Wait for OnOpen, not Count: a session counts before its OnOpen runs.
	deadline := time.Now().Add(30 * time.Second)
	var conns []*Conn
	for time.Now().Before(deadline) {
		h.mu.Lock()
		conns = h.conns
		h.mu.Unlock()
		if len(conns) >= n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if len(conns) < n {
		b.Fatalf("%d of %d sessions opened", len(conns), n)
	}
	for time.Now().Before(deadline) && read.Load() < int64(n*len(`0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)+2*n) {
		time.Sleep(time.Millisecond)
	}
	base := read.Load()

	frame := engineio.TextFrame(engineio.PacketMessage, []byte(`2["message",{"seq":1,"text":"hello, room"}]`))
	frames := []engineio.Frame{frame}
	perFrame := int64(len(frame.Data) + 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range conns {
			if err := c.Enqueue(frames, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	want := base + int64(b.N)*int64(n)*perFrame
	for read.Load() < want {
		if time.Now().After(deadline.Add(time.Minute)) {
			b.Fatalf("read %d of %d bytes", read.Load()-base, want-base)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/delivery")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, nc := range ncs {
		nc.Close()
	}
	_ = srv.Shutdown(ctx)
	_ = hs.Shutdown(ctx)
	clients.Wait()
}

// BenchmarkPollingRoundTrip measures one POST and one GET of an echoing
// polling session over loopback HTTP.
func BenchmarkPollingRoundTrip(b *testing.B) {
	ts := newTestServer(b, Config{})
	ts.rec.echo = true
	p := ts.pollHandshake(b)
	ts.rec.waitOpen(b)
	b.ReportAllocs()
	for b.Loop() {
		if status, _ := p.post("4hello"); status != 200 {
			b.Fatal(status)
		}
		<-ts.rec.msgs
		if _, body := p.get(); !strings.HasPrefix(body, "4hello") {
			b.Fatal(body)
		}
	}
}

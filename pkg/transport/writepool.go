package transport

import (
	"runtime"
	"sync"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

// writerPool writes the websocket queues that Enqueue fills: connections
// wait in ready (each at most once, while c.writing is set) and a few
// worker goroutines, started on demand and gone when ready is empty, write
// each one's whole queue with a non-blocking write. A broadcast thus costs
// neither a goroutine nor a syscall on the broadcaster's side per
// recipient, the writes spread over the cores, and frames that accumulate
// while a connection waits go out in one syscall.
type writerPool struct {
	mu      sync.Mutex
	ready   []*Conn
	workers int
}

// poolChunk is how many connections a worker takes from ready at once.
const poolChunk = 32

// maxPoolWorkers bounds the pool's goroutines.
func maxPoolWorkers() int { return runtime.GOMAXPROCS(0) }

// schedule queues c, whose c.writing the caller set, for a worker.
func (s *Server) schedule(c *Conn) {
	p := &s.writers
	p.mu.Lock()
	p.ready = append(p.ready, c)
	start := p.workers < maxPoolWorkers()
	if start {
		p.workers++
	}
	p.mu.Unlock()
	if start {
		s.group.goFunc(s.writeWorker)
	}
}

// writeWorker writes ready connections until there are none.
func (s *Server) writeWorker() {
	p := &s.writers
	var chunk [poolChunk]*Conn
	for {
		p.mu.Lock()
		n := copy(chunk[:], p.ready)
		if n == 0 {
			p.ready = nil
			p.workers--
			p.mu.Unlock()
			return
		}
		clear(p.ready[:n])
		p.ready = p.ready[n:]
		p.mu.Unlock()
		for i, c := range chunk[:n] {
			c.writeQueued()
			chunk[i] = nil
		}
	}
}

// Enqueue queues frames like Send, but never writes on the caller's
// goroutine: a shared pool of writers does, batching what accumulates for
// the connection meanwhile. It is the way to send one broadcast to many
// connections; Send suits a reply to one.
func (c *Conn) Enqueue(frames []engineio.Frame, volatile bool) error {
	return c.send(frames, volatile, false, false)
}

// writeQueued writes c's queue for the pool without waiting on the socket;
// c.writing is set. See finishWrite for what follows the write.
func (c *Conn) writeQueued() {
	c.mu.Lock()
	t := c.ws
	batch := c.queue
	c.queue = nil
	n := 0
	for _, f := range batch {
		n += len(f.Data)
	}
	c.mu.Unlock()
	if n > maxInlineBytes {
		// Too much to copy what the socket does not take: the connection's
		// own writer goroutine writes it, waiting as needed.
		c.mu.Lock()
		c.queue = append(batch, c.queue...)
		c.mu.Unlock()
		c.srv.group.goFunc(c.writeLoop)
		return
	}
	c.finishWrite(t, batch, n)
	clear(batch)
}

package session

import (
	"context"
	"sync"
	"time"

	"github.com/sockgate/sockgate/pkg/adapter"
)

// eagerStore writes the sessions of connected sockets ahead of any
// disconnection (PersistEager): when a socket connects, after its rooms or
// data change (coalesced over EagerFlush), and again every half
// MaxDisconnection so that the stored copy never expires while the socket
// lives. One goroutine does the writing; Shutdown stops it.
type eagerStore struct {
	srv     *Server
	flush   time.Duration
	refresh time.Duration

	mu      sync.Mutex
	dirty   map[*Socket]struct{}
	written map[*Socket]time.Time // last write of each live socket
	fifo    []eagerWrite          // writes in time order, for refreshes

	stop chan struct{}
	done chan struct{}
}

type eagerWrite struct {
	s  *Socket
	at time.Time
}

func newEagerStore(srv *Server) *eagerStore {
	e := &eagerStore{
		srv:     srv,
		flush:   min(srv.cfg.Recovery.EagerFlush, srv.cfg.Recovery.MaxDisconnection/4),
		refresh: srv.cfg.Recovery.MaxDisconnection / 2,
		dirty:   make(map[*Socket]struct{}),
		written: make(map[*Socket]time.Time),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go e.run()
	return e
}

// changed marks a connected socket's session for the next flush.
func (e *eagerStore) changed(s *Socket) {
	e.mu.Lock()
	e.dirty[s] = struct{}{}
	e.mu.Unlock()
}

// forget drops a socket that disconnected.
func (e *eagerStore) forget(s *Socket) {
	e.mu.Lock()
	delete(e.dirty, s)
	delete(e.written, s)
	e.mu.Unlock()
}

func (e *eagerStore) close() {
	close(e.stop)
	<-e.done
}

func (e *eagerStore) run() {
	defer close(e.done)
	t := time.NewTicker(e.flush)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.writeDue()
		}
	}
}

// due takes the dirty sockets and those whose refresh falls before the
// next tick: each stored copy is rewritten between refresh−flush and
// refresh after the last write, well before it expires.
func (e *eagerStore) due(now time.Time) []*Socket {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Socket, 0, len(e.dirty))
	for s := range e.dirty {
		out = append(out, s)
	}
	clear(e.dirty)
	i := 0
	for ; i < len(e.fifo); i++ {
		w := e.fifo[i]
		if now.Sub(w.at) <= e.refresh-e.flush {
			break
		}
		if at, ok := e.written[w.s]; ok && at.Equal(w.at) {
			out = append(out, w.s)
		}
	}
	clear(e.fifo[:i])
	e.fifo = e.fifo[i:]
	for _, s := range out {
		e.written[s] = now
		e.fifo = append(e.fifo, eagerWrite{s, now})
	}
	return out
}

func (e *eagerStore) writeDue() {
	socks := e.due(time.Now())
	if len(socks) == 0 {
		return
	}
	type item struct {
		n    *Namespace
		sess adapter.Session
	}
	items := make([]item, 0, len(socks))
	for _, s := range socks {
		s.mu.Lock()
		live := s.state == stateConnected && !s.rec.stored.Load()
		if live {
			items = append(items, item{s.nsp, s.sessionLocked()})
		}
		s.mu.Unlock()
		if !live {
			e.forget(s) // closed since it was marked
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(e.flush, restoreTimeout))
	defer cancel()
	work := make(chan item)
	var wg sync.WaitGroup
	for range min(handoverWorkers, len(items)) {
		wg.Go(func() {
			for it := range work {
				it.n.persist(ctx, it.sess)
			}
		})
	}
	for _, it := range items {
		select {
		case work <- it:
		case <-e.stop:
		}
	}
	close(work)
	wg.Wait()
}

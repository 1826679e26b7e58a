//go:build linux && !sockgate_portable

package transport

import (
	"errors"
	"sync"
	"syscall"
)

// poller parks quiet websockets in an epoll set of its own, so that an idle
// session has no goroutine at all (a parked goroutine costs its 2 KiB stack
// and more): one goroutine waits for every parked connection and starts a
// reader for each one that becomes readable. Registrations are one-shot, so
// a connection is handed to at most one reader per park.
//
// Lock order: poller.mu, then the connection's file descriptor (held by
// syscall.RawConn.Control for the epoll_ctl calls, so that a descriptor
// closed and reused meanwhile is never registered by mistake).
type poller struct {
	mu      sync.Mutex
	started bool
	closed  bool
	epfd    int
	wake    [2]int // a pipe whose read end ends run
	next    uint64 // last token handed out; 0 is the wake pipe
	parked  map[uint64]parkedConn
	done    chan struct{}
}

// pollState is what the poller keeps in each wsConn.
type pollState struct {
	token      uint64 // the connection's key in the poller, 0 until parked
	registered bool   // in the poller's epoll set
	unpollable bool   // closing: never park again
}

type parkedConn struct {
	c *Conn
	t *wsConn
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// park registers t to be read by a new reader of c once it is readable. It
// returns false if t cannot be parked; the caller waits in a goroutine then.
func (p *poller) park(s *Server, c *Conn, t *wsConn) bool {
	if t.raw == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || t.unpollable || !p.startLocked(s) {
		return false
	}
	if t.token == 0 {
		p.next++
		t.token = p.next
	}
	op := syscall.EPOLL_CTL_MOD
	if !t.registered {
		op = syscall.EPOLL_CTL_ADD
	}
	var err error
	cerr := t.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(uint32(t.token)), Pad: int32(uint32(t.token >> 32))}
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err = errors.Join(err, cerr); err != nil {
		return false
	}
	t.registered = true
	p.parked[t.token] = parkedConn{c, t}
	return true
}

// forget unregisters t before its connection closes; t is never parked
// again.
func (p *poller) forget(t *wsConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.unpollable = true
	if t.token != 0 {
		delete(p.parked, t.token)
	}
	if t.registered {
		t.registered = false
		_ = t.raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	}
}

// startLocked creates the epoll set and its goroutine on first use.
func (p *poller) startLocked(s *Server) bool {
	if p.started {
		return true
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(p.wake[0])
		syscall.Close(p.wake[1])
		return false
	}
	p.epfd, p.started = epfd, true
	p.parked = make(map[uint64]parkedConn)
	p.done = make(chan struct{})
	go p.run(s)
	return true
}

// run hands each connection that becomes readable to a new reader.
func (p *poller) run(s *Server) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			s.log.Error("transport: epoll_wait failed; parked websockets are read no more", "err", err)
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				return // stop
			}
			p.mu.Lock()
			pc, ok := p.parked[token]
			delete(p.parked, token)
			p.mu.Unlock()
			if ok {
				s.group.goFunc(func() { pc.c.readLoop(pc.t) })
			}
		}
	}
}

// stop ends run and releases the epoll set, once. Parked connections must
// have been closed (forgotten) before; later parks fail.
func (p *poller) stop() {
	p.mu.Lock()
	running := p.started && !p.closed
	p.closed = true
	p.mu.Unlock()
	if !running {
		return
	}
	_, _ = syscall.Write(p.wake[1], []byte{0})
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
}

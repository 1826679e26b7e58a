package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
)

type connState uint8

const (
	stateOpen connState = iota
	stateClosed
)

// closeMode says what happens to what is queued and to the transport when a
// session closes.
type closeMode uint8

const (
	closeFlush  closeMode = iota // write what is queued, then close the transport
	closeDrop                    // drop the queue, close the transport now
	closeDetach                  // drop the queue; the caller closes the websocket
)

// busyGap is how close two messages must be for a websocket reader to
// stay in a goroutine (cheaper per message) rather than park in the poller
// (cheaper per idle session), and for how long it stays.
const busyGap = time.Second

// closeTimeout bounds how long a closed polling session waits for a GET to
// take its last packets and the close packet (the reference server's value).
const closeTimeout = 30 * time.Second

// clientCloseLinger is how long a polling session the client closed (a
// close packet in a POST) stays known when no GET was pending: a GET the
// client sent alongside the POST, which lost the race to the server, still
// gets the noop a pending GET would have got, instead of "unknown sid".
const clientCloseLinger = 5 * time.Second

// Conn is one Engine.IO session. All methods may be called concurrently.
type Conn struct {
	srv *Server
	id  string
	req *Request

	// readMu serializes packet handling: polling POSTs and websocket readers.
	readMu sync.Mutex

	eio3 bool // Engine.IO v3 (see eio3.go); b64: binary goes as base64 text
	b64  bool

	lastRecv  atomic.Int64 // unix nanoseconds of the last packet received
	lastMsg   atomic.Int64 // unix nanoseconds of the last message received
	busyUntil atomic.Int64 // a websocket reader waits in a goroutine until then
	logged    atomic.Bool  // bad input was logged once already
	tooLarge  atomic.Bool  // closed for a message over MaxPayload (counted apart)

	mu         sync.Mutex // protects everything below
	state      connState
	reason     string
	delivering bool // a Handler method runs; OnClose waits for it to end
	notified   bool // OnClose was called or is due from the deliverer
	value      any
	transport  string

	queue  []engineio.Frame
	queued int // bytes queued or being written

	// Heartbeat: one runtime timer; due guards against a stale firing that
	// raced with a Reset.
	timer     *time.Timer
	due       time.Time
	awaitPong bool

	// Polling.
	pollActive bool          // a GET is waiting
	pollWake   chan struct{} // wakes the waiting GET
	draining   bool          // closed, kept to hand the close packet (or a noop) to the next GET
	clientGone bool          // the client closed: a pending GET ends with a noop

	// WebSocket.
	ws      *wsConn
	writing bool // the writer goroutine runs

	// Upgrade in progress.
	probe        *wsConn
	probed       bool // "2probe" answered: release pending GETs with noop
	upgradeTimer *time.Timer
}

// ID returns the session id.
func (c *Conn) ID() string { return c.id }

// Transport returns the current transport: "polling" or "websocket".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Request returns what the connection kept of its handshake request.
func (c *Conn) Request() *Request { return c.req }

// SetValue holds one value for the layer above (its per-connection state).
func (c *Conn) SetValue(v any) {
	c.mu.Lock()
	c.value = v
	c.mu.Unlock()
}

// Value returns the value set with SetValue.
func (c *Conn) Value() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// Send queues frames (message packets) for writing; it never blocks. When the
// queue would exceed WriteQueueBytes, a volatile send is dropped (nil error)
// and any other send closes the connection and returns ErrSlowConsumer.
// Volatile sends are also dropped while the transport is not writable.
//
// When the websocket writer is idle, Send writes on the caller's goroutine
// with one non-blocking write (what the socket does not take is left to a
// writer goroutine): the cheapest way to answer one client. To send the
// same frames to many connections, use Enqueue.
func (c *Conn) Send(frames []engineio.Frame, volatile bool) error {
	return c.send(frames, volatile, true, false)
}

// SendCopy is Send for frames whose memory the caller reuses once it
// returns (a scratch buffer): frames the connection cannot write at once
// are copied into memory of its own before they are queued, so what a slow
// connection holds is what WriteQueueBytes counts. A frame written inline
// is copied by the write itself, not kept.
func (c *Conn) SendCopy(frames []engineio.Frame, volatile bool) error {
	return c.send(frames, volatile, true, true)
}

// copyFrames returns frames with their data (n bytes in all) copied into
// one new buffer.
func copyFrames(frames []engineio.Frame, n int) []engineio.Frame {
	out := make([]engineio.Frame, len(frames))
	buf := make([]byte, 0, n)
	for i, f := range frames {
		buf = append(buf, f.Data...)
		out[i] = engineio.Frame{Data: buf[len(buf)-len(f.Data) : len(buf) : len(buf)], Binary: f.Binary}
	}
	return out
}

func (c *Conn) send(frames []engineio.Frame, volatile, inline, borrowed bool) error {
	n := 0
	for _, f := range frames {
		n += len(f.Data)
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	if volatile && !c.writableLocked() {
		c.mu.Unlock()
		c.srv.stats.volatileDropped.Add(uint64(len(frames)))
		return nil
	}
	if c.queued+n > c.srv.cfg.WriteQueueBytes {
		c.mu.Unlock()
		if volatile {
			c.srv.stats.volatileDropped.Add(uint64(len(frames)))
			return nil
		}
		c.srv.stats.slowConsumer.Add(1)
		c.srv.log.Debug("transport: slow consumer", "sid", c.id, "queued", c.queued)
		c.close(ReasonForcedClose, closeDrop)
		return ErrSlowConsumer
	}
	c.queued += n
	if inline && len(c.queue) == 0 && n <= maxInlineBytes && c.inlineWritableLocked() {
		// The writer is idle: write from this goroutine without blocking,
		// rather than starting one per message.
		c.writing = true
		t := c.ws
		c.mu.Unlock()
		c.finishWrite(t, frames, n)
		return nil
	}
	if borrowed {
		frames = copyFrames(frames, n)
	}
	c.queue = append(c.queue, frames...)
	if !inline && c.inlineWritableLocked() {
		c.writing = true
		c.mu.Unlock()
		c.srv.schedule(c)
		return nil
	}
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// Close closes the connection after writing what is queued; OnClose follows
// with reason.
func (c *Conn) Close(reason string) { c.close(reason, closeFlush) }

// writableLocked reports whether a frame sent now would be written without
// waiting: a polling GET is pending, or the transport is a websocket; never
// during an upgrade.
func (c *Conn) writableLocked() bool {
	if c.probe != nil {
		return false
	}
	if c.transport == TransportPolling {
		return c.pollActive
	}
	return true
}

// kickLocked makes the writer run: it wakes the pending polling GET, or
// starts the websocket writer goroutine if it is not running.
func (c *Conn) kickLocked() {
	if c.transport == TransportPolling {
		if c.pollActive {
			select {
			case c.pollWake <- struct{}{}:
			default:
			}
		}
		return
	}
	if !c.writing && c.ws != nil {
		c.writing = true
		c.srv.group.goFunc(c.writeLoop)
	}
}

// pushLocked queues a control frame; control frames never trip the queue
// limit.
func (c *Conn) pushLocked(f engineio.Frame) {
	c.queue = append(c.queue, f)
	c.queued += len(f.Data)
	c.kickLocked()
}

// close closes the session once. The server's own closes (closeFlush) write
// what is queued first; others drop it. OnClose is called now, or by the
// goroutine that is delivering a message when it finishes.
func (c *Conn) close(reason string, mode closeMode) {
	graceful := mode == closeFlush
	s := c.srv
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	c.reason = reason
	c.clientGone = reason == ReasonTransportClose
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.upgradeTimer != nil {
		c.upgradeTimer.Stop()
	}
	if !graceful {
		c.queue = nil
		c.queued = 0
	}
	fire := !c.delivering
	if fire {
		c.notified = true
	}
	probe := c.probe
	c.probe = nil
	var closeNow *wsConn
	keep := false
	if c.transport == TransportPolling {
		s.stats.openPolling.Add(-1)
		switch {
		case c.pollActive:
			// The pending GET takes the queue and the close packet.
			select {
			case c.pollWake <- struct{}{}:
			default:
			}
		case graceful:
			// Keep the session for the next GET, as the reference server
			// does; Shutdown waits for it (boundedly).
			keep = true
			c.draining = true
			s.drains.add()
			c.due = time.Now().Add(closeTimeout)
			c.timer.Reset(closeTimeout)
		case c.clientGone:
			// Keep it briefly for a GET racing the client's close; nobody
			// waits for that one (Shutdown does not).
			keep = true
			c.draining = true
			c.due = time.Now().Add(clientCloseLinger)
			c.timer.Reset(clientCloseLinger)
		}
	} else {
		s.stats.openWebSocket.Add(-1)
		if graceful {
			// Bound the flush: a client that does not read within a ping
			// timeout is gone.
			c.ws.out.limit(time.Now().Add(s.cfg.PingTimeout))
			if !c.writing {
				c.writing = true
				s.group.goFunc(c.writeLoop) // flushes, then closes the websocket
			}
		} else if mode == closeDrop {
			closeNow = c.ws
		}
	}
	c.mu.Unlock()

	if reason == ReasonTransportError && c.tooLarge.Load() {
		s.stats.closeTooLarge.Add(1)
	} else {
		s.stats.countClose(reason)
	}
	if !keep {
		s.unregister(c)
	}
	if probe != nil {
		probe.closeNow()
	}
	switch {
	case closeNow != nil && reason == ReasonPingTimeout:
		closeNow.closeTimedOut()
	case closeNow != nil:
		closeNow.closeNow()
	}
	if fire {
		c.callOnClose(reason)
	}
}

// beginDelivery marks a Handler call in progress; false if c is closed.
func (c *Conn) beginDelivery() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return false
	}
	c.delivering = true
	return true
}

// endDelivery ends a Handler call and calls OnClose if c closed meanwhile.
func (c *Conn) endDelivery() {
	c.mu.Lock()
	c.delivering = false
	fire := c.state == stateClosed && !c.notified
	if fire {
		c.notified = true
	}
	reason := c.reason
	c.mu.Unlock()
	if fire {
		c.callOnClose(reason)
	}
}

// onPacket handles one packet from the client; c.readMu is held. It returns
// ErrClosed when the session is closed and no more packets should be read.
func (c *Conn) onPacket(p engineio.Packet) error {
	s := c.srv
	s.stats.packetsIn.Add(1)
	s.stats.bytesIn.Add(uint64(len(p.Data) + 1))
	now := time.Now().UnixNano()
	c.lastRecv.Store(now)
	switch p.Type {
	case engineio.PacketMessage:
		// Two messages within busyGap: keep a reader goroutine ready for a
		// while instead of parking the websocket in the poller.
		if now-c.lastMsg.Swap(now) < int64(busyGap) {
			c.busyUntil.Store(now + int64(busyGap))
		}
		if !c.beginDelivery() {
			return ErrClosed
		}
		c.callOnMessage(p.Data, p.Binary)
		c.endDelivery()
	case engineio.PacketPong:
		if c.eio3 {
			c.badInput("pong from client", nil) // "invalid heartbeat direction"
			c.close(ReasonTransportError, closeDrop)
			return ErrClosed
		}
		c.mu.Lock()
		if c.awaitPong && c.state == stateOpen {
			c.awaitPong = false
			c.armLocked(s.cfg.PingInterval)
		}
		c.mu.Unlock()
	case engineio.PacketClose:
		c.close(ReasonTransportClose, closeDrop)
		return ErrClosed
	case engineio.PacketPing:
		if c.eio3 {
			c.onPingV3(p.Data)
			return nil
		}
		// In v4 only the server pings ("invalid heartbeat direction").
		c.badInput("ping from client", nil)
		c.close(ReasonTransportError, closeDrop)
		return ErrClosed
	}
	return nil
}

// stopDrainingLocked ends the wait of a closed polling session for its last
// GET; it reports whether the session was waiting. c.mu is held.
func (c *Conn) stopDrainingLocked() bool {
	if !c.draining {
		return false
	}
	c.draining = false
	if !c.clientGone {
		c.srv.drains.done() // only the server's closes are waited for
	}
	return true
}

// armLocked (re)starts the session timer to fire after d.
func (c *Conn) armLocked(d time.Duration) {
	c.due = time.Now().Add(d)
	c.timer.Reset(d)
}

// onTimer runs the heartbeat: send a ping every PingInterval and close the
// session when no pong comes within PingTimeout. A closed polling session
// waiting for its last GET is dropped when the timer fires.
func (c *Conn) onTimer() {
	s := c.srv
	c.mu.Lock()
	if time.Now().Before(c.due) {
		c.mu.Unlock() // stale: the timer was reset after this firing began
		return
	}
	if c.eio3 && c.state == stateOpen {
		// v3: the client pings; none came within the interval and timeout.
		c.mu.Unlock()
		c.close(ReasonPingTimeout, closeDrop)
		return
	}
	if c.state != stateOpen {
		drop := c.stopDrainingLocked()
		c.mu.Unlock()
		if drop {
			s.unregister(c)
		}
		return
	}
	if !c.awaitPong {
		c.awaitPong = true
		c.armLocked(s.cfg.PingTimeout)
		c.pushLocked(s.pingFrame)
		c.mu.Unlock()
		return
	}
	// Like the reference server, a client that sent anything recently is
	// given the rest of the timeout from its last packet.
	if since := time.Duration(time.Now().UnixNano() - c.lastRecv.Load()); since < s.cfg.PingTimeout {
		c.armLocked(s.cfg.PingTimeout - since)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.close(ReasonPingTimeout, closeDrop)
}

// badInput logs the first bad input of a connection at debug level, and
// every bad input through the server's sampler (one info line per kind per
// period, with a count), so that no client can flood the log.
func (c *Conn) badInput(what string, err error) {
	if c.logged.CompareAndSwap(false, true) {
		c.srv.log.Debug("transport: bad input", "sid", c.id, "what", what, "err", err)
	}
	c.srv.badLog.Log(what, "transport: bad input from clients", "what", what, "err", err)
}

func (c *Conn) callOnOpen() {
	defer c.recoverHandler("OnOpen")
	c.srv.handler.OnOpen(c)
}

func (c *Conn) callOnMessage(data []byte, binary bool) {
	defer c.recoverHandler("OnMessage")
	c.srv.handler.OnMessage(c, data, binary)
}

func (c *Conn) callOnClose(reason string) {
	defer c.recoverHandler("OnClose")
	c.srv.handler.OnClose(c, reason)
}

// recoverHandler turns a panic in a Handler method into a closed connection.
func (c *Conn) recoverHandler(method string) {
	if v := recover(); v != nil {
		c.srv.stats.panics.Add(1)
		c.srv.log.Error("transport: handler panic", "sid", c.id, "method", method, "panic", v)
		c.close(ReasonTransportError, closeDrop)
	}
}

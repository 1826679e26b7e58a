package redis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// subscriptions owns the subscriber connections. Classic mode and sharded
// mode on a single server use one connection; sharded mode on Redis Cluster
// uses one per hash slot in use (a sharded subscription lives on the slot's
// node). A connection is closed, and its goroutine ends, when its last
// channel is unsubscribed, so dynamic rooms do not pile up connections.
//
// Grouping the slots of one master on one connection is not done: on
// reconnect go-redis resubscribes every shard channel of a PubSub with a
// single SSUBSCRIBE, which Redis rejects (CROSSSLOT) unless they share a
// slot.
//
// Room subscriptions of the sharded dynamic modes are requested from inside
// the room index (which must not wait), so they are recorded as the wanted
// state of each channel and applied by one worker goroutine: while Redis is
// slow, a client looping join/leave only rewrites its room's wish, so the
// backlog is bounded by the number of distinct rooms and the latest wish
// wins.
type subscriptions struct {
	a       *Adapter
	cluster bool

	mu      sync.Mutex
	conns   map[int]*subConn
	closed  bool
	pending map[string]bool // room channel -> subscribed wanted, not applied yet
	wake    chan struct{}
}

type subConn struct {
	ps    *goredis.PubSub
	chans map[string]struct{} // kind + "\x00" + channel; guarded by subscriptions.mu
	quit  chan struct{}       // closed when the connection is retired

	mu  sync.Mutex
	err error // last receive error; nil while connected
}

func (s *subscriptions) init(a *Adapter) {
	s.a = a
	_, s.cluster = a.client.(*goredis.ClusterClient)
	s.conns = make(map[int]*subConn)
	s.pending = make(map[string]bool)
	s.wake = make(chan struct{}, 1)
	a.wg.Add(1)
	go s.work()
}

func (s *subscriptions) slot(channel string) int {
	if !s.cluster || !s.a.cfg.Sharded {
		return 0
	}
	return hashSlot(channel)
}

// conn returns the connection of channel and records the change: a
// subscription registers the channel (creating the connection, not yet
// started); an unsubscription deregisters it and, for the connection's last
// channel, takes the connection out of the map for the caller to retire
// (closing it drops the subscription, so no command is needed). send is
// false when there is nothing to send: no connection, or no change.
func (s *subscriptions) conn(kind, channel string, subscribe bool) (c *subConn, fresh, send, retire bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, false, false
	}
	k := s.slot(channel)
	id := kind + "\x00" + channel
	c = s.conns[k]
	if !subscribe {
		if c == nil {
			return nil, false, false, false
		}
		if _, ok := c.chans[id]; !ok {
			return c, false, false, false
		}
		delete(c.chans, id)
		if len(c.chans) == 0 {
			delete(s.conns, k)
			return c, false, false, true
		}
		return c, false, true, false
	}
	if c == nil {
		c = &subConn{ps: s.a.client.Subscribe(s.a.ctx), chans: make(map[string]struct{}), quit: make(chan struct{})}
		s.conns[k] = c
		fresh = true
	}
	if _, ok := c.chans[id]; ok {
		return c, false, false, false
	}
	c.chans[id] = struct{}{}
	return c, fresh, true, false
}

// do runs one (un)subscribe command; a new connection's receive loop starts
// after its first subscription, so that it dials the right node.
func (s *subscriptions) do(ctx context.Context, kind, channel string, subscribe bool, f func(ctx context.Context, ps *goredis.PubSub) error) {
	c, fresh, send, retire := s.conn(kind, channel, subscribe)
	if retire {
		c.retire()
		return
	}
	if !send {
		return
	}
	if err := f(ctx, c.ps); err != nil && s.a.ctx.Err() == nil {
		// go-redis keeps the channel and subscribes again on reconnect.
		s.a.log.Debug("redis adapter: subscribe deferred", "channel", channel, "err", err)
		c.setErr(err)
	}
	if fresh {
		s.a.wg.Add(1)
		go s.receive(c)
	}
}

// subscribe subscribes synchronously (namespace creation).
func (s *subscriptions) subscribe(kind string, channels ...string) {
	ctx, cancel := context.WithTimeout(s.a.ctx, 5*time.Second)
	defer cancel()
	for _, ch := range channels {
		s.do(ctx, kind, ch, true, func(ctx context.Context, ps *goredis.PubSub) error {
			switch kind {
			case "psubscribe":
				return ps.PSubscribe(ctx, ch)
			case "ssubscribe":
				return ps.SSubscribe(ctx, ch)
			default:
				return ps.Subscribe(ctx, ch)
			}
		})
	}
}

// unsubscribe unsubscribes synchronously (namespace close).
func (s *subscriptions) unsubscribe(kind string, channels ...string) {
	ctx, cancel := context.WithTimeout(s.a.ctx, 2*time.Second)
	defer cancel()
	for _, ch := range channels {
		s.do(ctx, kind, ch, false, func(ctx context.Context, ps *goredis.PubSub) error {
			switch kind {
			case "psubscribe":
				return ps.PUnsubscribe(ctx, ch)
			case "ssubscribe":
				return ps.SUnsubscribe(ctx, ch)
			default:
				return ps.Unsubscribe(ctx, ch)
			}
		})
	}
}

// queue asks the worker to (un)subscribe a sharded room channel, replacing
// any earlier wish for it. It never blocks.
func (s *subscriptions) queue(channel string, subscribe bool) {
	s.mu.Lock()
	if !s.closed {
		s.pending[channel] = subscribe
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// forget drops the wishes for channels that the worker has not applied
// yet (namespace close: they must not outlive the namespace).
func (s *subscriptions) forget(channels []string) {
	s.mu.Lock()
	for _, ch := range channels {
		delete(s.pending, ch)
	}
	s.mu.Unlock()
}

func (s *subscriptions) work() {
	defer s.a.wg.Done()
	for {
		select {
		case <-s.a.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			wants := s.pending
			if len(wants) == 0 {
				s.mu.Unlock()
				break
			}
			s.pending = make(map[string]bool)
			s.mu.Unlock()
			for ch, subscribe := range wants {
				if subscribe {
					s.subscribe("ssubscribe", ch)
				} else {
					s.unsubscribe("ssubscribe", ch)
				}
			}
		}
	}
}

func (s *subscriptions) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.retire()
	}
}

// retire stops the connection's receive loop and closes it.
func (c *subConn) retire() {
	close(c.quit)
	_ = c.ps.Close()
}

// pause waits d, or until the adapter closes or c is retired; it reports
// whether the receive loop may go on.
func (s *subscriptions) pause(c *subConn, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.a.ctx.Done():
	case <-c.quit:
	}
	return false
}

func (s *subscriptions) health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if err := c.getErr(); err != nil {
			return err
		}
	}
	return nil
}

func (c *subConn) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *subConn) getErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// receive reads one connection until Close. go-redis reconnects and
// resubscribes on the next read after an error; this loop backs off between
// failed attempts and pings an idle connection to notice a dead one.
func (s *subscriptions) receive(c *subConn) {
	defer s.a.wg.Done()
	backoff := 50 * time.Millisecond
	down := false
	for s.a.ctx.Err() == nil {
		msg, err := c.ps.ReceiveTimeout(s.a.ctx, 30*time.Second)
		if s.a.ctx.Err() != nil {
			return
		}
		select {
		case <-c.quit:
			return
		default:
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = c.ps.Ping(s.a.ctx) // an error here makes the next read reconnect
				continue
			}
			c.setErr(err)
			if !down {
				down = true
				s.a.log.Warn("redis adapter: subscriber disconnected; reconnecting", "err", err)
			}
			if !s.pause(c, backoff) {
				return
			}
			// At most a quarter second: health comes back soon after Redis.
			backoff = min(backoff*2, 250*time.Millisecond)
			continue
		}
		backoff = 50 * time.Millisecond
		c.setErr(nil)
		if down {
			down = false
			s.a.log.Info("redis adapter: subscriber reconnected")
		}
		if m, ok := msg.(*goredis.Message); ok {
			s.a.dispatch(m.Channel, m.Payload)
		}
	}
}

// hashSlot is the Redis Cluster slot of key (CRC16/XMODEM mod 16384, with
// {hash tags}).
func hashSlot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) & 16383
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// Package scenario runs the load generator's scenarios (connect, fanout,
// echo, churn) against one or more gateway nodes and returns a Summary.
//
// Each scenario owns every goroutine and connection it starts and releases
// them all before Run returns, also when its context is cancelled (then the
// summary covers what was done so far).
package scenario

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Config holds every knob of every scenario; each scenario reads the ones it
// needs. Zero values mean the documented defaults (see withDefaults).
type Config struct {
	Nodes []string // node base URLs (http://host:port); clients are spread round-robin
	Path  string   // Engine.IO path, default "/socket.io/"

	N           int           // connect/fanout/churn: receiving connections, default 1000
	Ramp        float64       // new connections per second, 0 = as fast as Concurrency allows
	Concurrency int           // handshakes in flight at once, default 200
	Hold        time.Duration // connect: how long to hold the connections, default 10s

	Room     string        // fanout/churn: room name, default "bench"
	Messages int           // fanout: messages to publish, default 1000
	Rate     float64       // fanout/churn: messages/s; echo: total requests/s (0 = closed loop)
	Payload  int           // bytes of padding in each message/echo, default 64
	Drain    time.Duration // fanout: how long to wait for late deliveries, default 5s
	Duration time.Duration // echo/churn: how long to run, default 10s

	Clients int // echo: concurrent clients, default 50

	Stalled int // fanout: extra room members that stop reading once joined (slow consumers)

	ChurnRate float64       // churn: connections opened (and later closed) per second, default 100
	ChurnLife time.Duration // churn: how long each churning connection lives, default 1s
	Settle    time.Duration // churn: how long to wait for nodes to return to baseline, default 15s

	PIDs          []int  // node process ids, for CPU and RSS from /proc
	RedisPID      int    // optional: redis-server pid, its CPU is reported apart
	SocketsMetric string // gauge of connected sockets on /metrics; default: auto-detect
	Sources       int    // source addresses 127.0.0.x to dial from; 0 = one per 20,000 connections

	Progress time.Duration // progress line period on Log, default 2s
	Log      io.Writer     // progress output (stderr)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	def(&c.N, 1000)
	def(&c.Concurrency, 200)
	defDur(&c.Hold, 10*time.Second)
	if c.Room == "" {
		c.Room = "bench"
	}
	def(&c.Messages, 1000)
	def(&c.Payload, 64)
	defDur(&c.Drain, 5*time.Second)
	defDur(&c.Duration, 10*time.Second)
	def(&c.Clients, 50)
	if c.ChurnRate == 0 {
		c.ChurnRate = 100
	}
	defDur(&c.ChurnLife, time.Second)
	defDur(&c.Settle, 15*time.Second)
	defDur(&c.Progress, 2*time.Second)
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

func (c Config) validate() error {
	if len(c.Nodes) == 0 {
		return errors.New("scenario: no nodes")
	}
	if c.N < 0 || c.Concurrency < 0 || c.Messages < 0 || c.Payload < 0 || c.Clients < 0 || c.Stalled < 0 {
		return errors.New("scenario: negative count")
	}
	if c.Rate < 0 || c.Ramp < 0 || c.ChurnRate < 0 {
		return errors.New("scenario: negative rate")
	}
	if c.N > 1_000_000 {
		return fmt.Errorf("scenario: N=%d is more than this tool bounds (1,000,000)", c.N)
	}
	return nil
}

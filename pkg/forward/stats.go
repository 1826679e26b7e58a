package forward

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds, in seconds, of the buckets of
// Stats.Latency.
var latencyBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// LatencyBounds returns the upper bounds, in seconds, of the buckets of
// Stats.Latency (the last bucket, +Inf, is implied).
func LatencyBounds() []float64 { return append([]float64(nil), latencyBounds[:]...) }

// Histogram is a snapshot of a latency histogram.
type Histogram struct {
	Buckets []uint64 // per bucket of LatencyBounds, then one for larger values (not cumulative)
	Count   uint64
	Sum     time.Duration
}

// Stats is a snapshot of a Node's counters.
type Stats struct {
	// Forwarded counts this node's forwards, by kind and result.
	Forwarded [numKinds][numResults]uint64
	// Latency is, per kind, the time from receiving a forwarded request to
	// the owner's response headers (for a polling GET that includes the
	// long-poll wait; for a websocket, until 101 Switching Protocols).
	Latency [numKinds]Histogram
	// Accepted counts authenticated requests forwarded to this node;
	// Rejected the requests claiming to be forwarded that were not, by reason.
	Accepted uint64
	Rejected [numRejects]uint64
	// Heartbeats and HeartbeatErrors count registry refreshes.
	Heartbeats, HeartbeatErrors uint64
}

// Kinds, Results and Rejects list the values indexing Stats' arrays.
func Kinds() []Kind { return []Kind{KindPollingGet, KindPollingPost, KindWebSocket} }
func Results() []Result {
	return []Result{ResultOK, ResultUnknownNode, ResultUnreachable, ResultCanceled, ResultRegistryError}
}
func Rejects() []Reject { return []Reject{RejectMissing, RejectSignature, RejectExpired, RejectBody} }

type histogram struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

type counters struct {
	forwarded                   [numKinds][numResults]atomic.Uint64
	latency                     [numKinds]histogram
	accepted                    atomic.Uint64
	rejected                    [numRejects]atomic.Uint64
	heartbeats, heartbeatErrors atomic.Uint64
}

func (c *counters) count(k Kind, r Result) { c.forwarded[k][r].Add(1) }

func (c *counters) observe(k Kind, d time.Duration) {
	h := &c.latency[k]
	s := d.Seconds()
	i := 0
	for i < len(latencyBounds) && s > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
	h.count.Add(1)
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	c := &n.stats
	var s Stats
	for k := range numKinds {
		for r := range numResults {
			s.Forwarded[k][r] = c.forwarded[k][r].Load()
		}
		h := &c.latency[k]
		s.Latency[k].Buckets = make([]uint64, len(h.buckets))
		for i := range h.buckets {
			s.Latency[k].Buckets[i] = h.buckets[i].Load()
		}
		s.Latency[k].Count = h.count.Load()
		s.Latency[k].Sum = time.Duration(h.sum.Load())
	}
	s.Accepted = c.accepted.Load()
	for r := range numRejects {
		s.Rejected[r] = c.rejected[r].Load()
	}
	s.Heartbeats = c.heartbeats.Load()
	s.HeartbeatErrors = c.heartbeatErrors.Load()
	return s
}

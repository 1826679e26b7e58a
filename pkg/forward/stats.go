package forward

import (
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/histogram"
)

// latencyBounds are the upper bounds, in seconds, of the buckets of
// Stats.Latency: up to a minute, since a polling GET waits up to the ping
// interval.
var latencyBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Stats is a snapshot of a Node's counters.
type Stats struct {
	// Forwarded counts this node's forwards, by kind and result.
	Forwarded [numKinds][numResults]uint64
	// Latency is, per kind, the time from receiving a forwarded request to
	// the owner's response headers (for a polling GET that includes the
	// long-poll wait; for a websocket, until 101 Switching Protocols).
	Latency [numKinds]histogram.Snapshot
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
	return []Result{ResultOK, ResultUnknownNode, ResultUnreachable, ResultCanceled, ResultRegistryError, ResultRefused}
}
func Rejects() []Reject { return []Reject{RejectMissing, RejectSignature, RejectExpired, RejectBody} }

type counters struct {
	forwarded                   [numKinds][numResults]atomic.Uint64
	latency                     [numKinds]*histogram.Histogram
	accepted                    atomic.Uint64
	rejected                    [numRejects]atomic.Uint64
	heartbeats, heartbeatErrors atomic.Uint64
}

func (c *counters) count(k Kind, r Result) { c.forwarded[k][r].Add(1) }

func (c *counters) observe(k Kind, d time.Duration) { c.latency[k].Observe(d.Seconds()) }

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	c := &n.stats
	var s Stats
	for k := range numKinds {
		for r := range numResults {
			s.Forwarded[k][r] = c.forwarded[k][r].Load()
		}
		s.Latency[k] = c.latency[k].Snapshot()
	}
	s.Accepted = c.accepted.Load()
	for r := range numRejects {
		s.Rejected[r] = c.rejected[r].Load()
	}
	s.Heartbeats = c.heartbeats.Load()
	s.HeartbeatErrors = c.heartbeatErrors.Load()
	return s
}

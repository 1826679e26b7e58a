package redis

import (
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/histogram"
)

// badReason classifies rejected messages.
type badReason uint8

const (
	reasonOversized badReason = iota
	reasonChannel
	reasonNamespace
	reasonMsgpack
	reasonJSON
	reasonType
	reasonPacket
	reasonPanic
	numReasons
)

var reasonNames = [numReasons]string{"oversized", "channel", "namespace", "msgpack", "json", "type", "packet", "panic"}

func (r badReason) String() string { return reasonNames[r] }

type counters struct {
	published       atomic.Uint64
	publishErrors   atomic.Uint64
	publishDropped  atomic.Uint64
	received        atomic.Uint64
	requestsSent    atomic.Uint64
	requestsServed  atomic.Uint64
	requestTimeouts atomic.Uint64
	sessionsStored  atomic.Uint64
	malformed       [numReasons]atomic.Uint64

	publishLatency  *histogram.Histogram              // seconds per publish pipeline
	requestDuration [numReqKinds]*histogram.Histogram // seconds per cluster request, by kind
}

func (c *counters) init() {
	c.publishLatency = histogram.NewLatency()
	for i := range c.requestDuration {
		c.requestDuration[i] = histogram.NewLatency()
	}
}

// requestTypes name the request kinds (reqAllRooms...) in
// Stats.RequestDuration.
var requestTypes = [numReqKinds]string{"allRooms", "fetchSockets", "serverSideEmit"}

// Stats is a snapshot of an adapter's counters.
type Stats struct {
	Published       uint64 // messages written to Redis
	PublishErrors   uint64 // messages Redis did not take (sent while it was failing)
	PublishDropped  uint64 // messages dropped because the publish queue was full
	Received        uint64 // messages read from Redis, own echoes included
	RequestsSent    uint64 // cluster requests issued by this node
	RequestsServed  uint64 // cluster requests from other nodes handled here
	RequestTimeouts uint64 // requests of this node that timed out
	// Streams format: entries read, the age of the last one when it was
	// read (the stream lag), recovery sessions written.
	StreamEntries  uint64
	StreamLag      time.Duration
	SessionsStored uint64
	// Malformed counts rejected messages by reason: oversized, channel,
	// namespace, msgpack, json, type, packet, panic (always all of them).
	Malformed map[string]uint64
	// PublishLatency is the time of each publish pipeline (one or more
	// messages sent together) until Redis answered or failed, in seconds.
	PublishLatency histogram.Snapshot
	// RequestDuration is the time of each cluster request of this node
	// until every reply arrived or it timed out, in seconds, by request
	// type: allRooms, fetchSockets and serverSideEmit (always all three).
	RequestDuration map[string]histogram.Snapshot
}

// Stats returns a snapshot of the adapter's counters.
func (a *Adapter) Stats() Stats {
	c := &a.stats
	s := Stats{
		Published:       c.published.Load(),
		PublishErrors:   c.publishErrors.Load(),
		PublishDropped:  c.publishDropped.Load(),
		Received:        c.received.Load(),
		RequestsSent:    c.requestsSent.Load(),
		RequestsServed:  c.requestsServed.Load(),
		RequestTimeouts: c.requestTimeouts.Load(),
		StreamEntries:   a.reader.entries.Load(),
		StreamLag:       time.Duration(a.reader.lagMs.Load()) * time.Millisecond,
		SessionsStored:  c.sessionsStored.Load(),
		Malformed:       make(map[string]uint64, numReasons),
		PublishLatency:  c.publishLatency.Snapshot(),
		RequestDuration: make(map[string]histogram.Snapshot, numReqKinds),
	}
	for i, h := range c.requestDuration {
		s.RequestDuration[requestTypes[i]] = h.Snapshot()
	}
	for i := range c.malformed {
		s.Malformed[badReason(i).String()] = c.malformed[i].Load()
	}
	return s
}

package redis

import (
	"sync/atomic"
	"time"
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
}

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
	// namespace, msgpack, json, type, packet, panic.
	Malformed map[string]uint64
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
	}
	for i := range c.malformed {
		if v := c.malformed[i].Load(); v > 0 {
			s.Malformed[badReason(i).String()] = v
		}
	}
	return s
}

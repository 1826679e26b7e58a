package transport

import "sync/atomic"

// Stats is a snapshot of a Server's counters. Counters only grow; Open* are
// gauges.
type Stats struct {
	OpenPolling   int64 // sessions whose current transport is polling
	OpenWebSocket int64 // sessions whose current transport is websocket

	Handshakes     uint64 // sessions opened
	HandshakesEIO3 uint64 // of which Engine.IO v3 (Config.AllowEIO3)
	Upgrades       uint64 // polling sessions upgraded to websocket

	PacketsIn  uint64 // Engine.IO packets received
	PacketsOut uint64 // Engine.IO packets written
	BytesIn    uint64 // payload bytes received (packets as encoded)
	BytesOut   uint64 // payload bytes written

	SlowConsumerCloses uint64 // connections closed because their write queue overflowed
	VolatileDropped    uint64 // volatile frames dropped

	Closes ReasonStats
	Errors ErrorStats
}

// ReasonStats counts closed sessions by reason. PayloadTooLarge counts the
// sessions closed for a polling body or websocket message over MaxPayload:
// their Handler reason is "transport error" (as in the reference server),
// but they are not in TransportError.
type ReasonStats struct {
	TransportClose  uint64
	TransportError  uint64
	PingTimeout     uint64
	ParseError      uint64
	ForcedClose     uint64
	ServerShutdown  uint64
	PayloadTooLarge uint64
}

// ErrorStats counts bad requests and bad input by kind.
type ErrorStats struct {
	UnknownTransport    uint64 // handshake errors, by code
	UnknownSID          uint64
	BadHandshakeMethod  uint64
	BadRequest          uint64
	Forbidden           uint64
	UnsupportedProtocol uint64
	Unavailable         uint64 // handshakes refused with 503 (shutting down, AllowRequest's StatusError)

	ParseErrors     uint64 // undecodable packets or polling bodies
	InvalidUTF8     uint64 // text frames that are not UTF-8
	PayloadTooLarge uint64 // polling bodies or websocket messages over MaxPayload
	DuplicatePoll   uint64 // a second concurrent polling GET
	AbortedPoll     uint64 // a polling GET closed by the client
	WebSocketAccept uint64 // failed websocket handshakes
	DuplicateWS     uint64 // a websocket for a session that has one: accepted, then closed
	WebSocketFrames uint64 // websocket frames that break RFC 6455 (failed with close code 1002)
	Panics          uint64 // recovered panics in Handler methods

	Origin          uint64 // handshakes and upgrades refused for their Origin (also in Forbidden)
	ConnectionLimit uint64 // handshakes refused at MaxConnections
	HandshakeRate   uint64 // handshakes refused over HandshakeRate
}

type counters struct {
	openPolling, openWebSocket atomic.Int64

	handshakes, handshakesEIO3         atomic.Uint64
	upgrades                           atomic.Uint64
	packetsIn, packetsOut              atomic.Uint64
	bytesIn, bytesOut                  atomic.Uint64
	slowConsumer, volatileDropped      atomic.Uint64
	closeTransport, closeError         atomic.Uint64
	closePing, closeParse, closeForced atomic.Uint64
	closeShutdown, closeTooLarge       atomic.Uint64
	unavailable                        atomic.Uint64

	codes [6]atomic.Uint64

	parse, utf8, tooLarge, dupPoll, abortedPoll, wsAccept, wsIgnored, wsProtocol, panics atomic.Uint64

	origin, connLimit, handshakeRate atomic.Uint64
}

func (c *counters) countClose(reason string) {
	switch reason {
	case ReasonTransportClose:
		c.closeTransport.Add(1)
	case ReasonTransportError:
		c.closeError.Add(1)
	case ReasonPingTimeout:
		c.closePing.Add(1)
	case ReasonParseError:
		c.closeParse.Add(1)
	case ReasonServerShutdown:
		c.closeShutdown.Add(1)
	default:
		c.closeForced.Add(1)
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		OpenPolling:        c.openPolling.Load(),
		OpenWebSocket:      c.openWebSocket.Load(),
		Handshakes:         c.handshakes.Load(),
		HandshakesEIO3:     c.handshakesEIO3.Load(),
		Upgrades:           c.upgrades.Load(),
		PacketsIn:          c.packetsIn.Load(),
		PacketsOut:         c.packetsOut.Load(),
		BytesIn:            c.bytesIn.Load(),
		BytesOut:           c.bytesOut.Load(),
		SlowConsumerCloses: c.slowConsumer.Load(),
		VolatileDropped:    c.volatileDropped.Load(),
		Closes: ReasonStats{
			TransportClose:  c.closeTransport.Load(),
			TransportError:  c.closeError.Load(),
			PingTimeout:     c.closePing.Load(),
			ParseError:      c.closeParse.Load(),
			ForcedClose:     c.closeForced.Load(),
			ServerShutdown:  c.closeShutdown.Load(),
			PayloadTooLarge: c.closeTooLarge.Load(),
		},
		Errors: ErrorStats{
			UnknownTransport:    c.codes[codeUnknownTransport].Load(),
			UnknownSID:          c.codes[codeUnknownSID].Load(),
			BadHandshakeMethod:  c.codes[codeBadHandshakeMethod].Load(),
			BadRequest:          c.codes[codeBadRequest].Load(),
			Forbidden:           c.codes[codeForbidden].Load(),
			UnsupportedProtocol: c.codes[codeUnsupportedProtocol].Load(),
			Unavailable:         c.unavailable.Load(),
			ParseErrors:         c.parse.Load(),
			InvalidUTF8:         c.utf8.Load(),
			PayloadTooLarge:     c.tooLarge.Load(),
			DuplicatePoll:       c.dupPoll.Load(),
			AbortedPoll:         c.abortedPoll.Load(),
			WebSocketAccept:     c.wsAccept.Load(),
			DuplicateWS:         c.wsIgnored.Load(),
			WebSocketFrames:     c.wsProtocol.Load(),
			Panics:              c.panics.Load(),
			Origin:              c.origin.Load(),
			ConnectionLimit:     c.connLimit.Load(),
			HandshakeRate:       c.handshakeRate.Load(),
		},
	}
}

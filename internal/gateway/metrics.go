package gateway

import (
	"github.com/sockgate/sockgate/internal/metrics"
	"github.com/sockgate/sockgate/pkg/histogram"
	"github.com/sockgate/sockgate/pkg/session"
	"github.com/sockgate/sockgate/pkg/transport"
)

// registerMetrics adds the gateway's collectors to its registry: each reads
// one Stats() snapshot per scrape.
func (g *Gateway) registerMetrics() {
	bundle := g.bundle.Version()
	if bundle == "" {
		bundle = "missing"
	}
	g.reg.MustRegister(metrics.NewCollector(g.Readiness,
		metrics.GaugeVec("sockgate_build_info", "Build and setup of this node (always 1).",
			[]string{"version", "adapter", "client_bundle"},
			func(_ Readiness, emit func(float64, ...string)) { emit(1, g.cfg.Version, g.AdapterName(), bundle) }),
		metrics.Gauge("sockgate_ready", "1 when the node takes new clients (see /readyz?verbose), else 0.",
			func(r Readiness) float64 { return b2f(r.Ready) }),
		metrics.Gauge("sockgate_draining", "1 from the shutdown signal until the process exits, else 0.",
			func(r Readiness) float64 { return b2f(r.Draining) }),
	))

	g.reg.MustRegister(metrics.NewCollector(g.io.Stats,
		metrics.Gauge("sockgate_connections", "Open Engine.IO connections.",
			func(s session.Stats) float64 { return float64(s.Connections) }),
		metrics.Gauge("sockgate_sockets", "Connected Socket.IO sockets, all namespaces.",
			func(s session.Stats) float64 { return float64(s.Sockets) }),
		metrics.Gauge("sockgate_namespaces", "Namespaces of the server.",
			func(s session.Stats) float64 { return float64(s.Namespaces) }),
		metrics.Counter("sockgate_packets_received_total", "Socket.IO packets received.",
			func(s session.Stats) float64 { return float64(s.PacketsIn) }),
		metrics.Counter("sockgate_packets_sent_total", "Socket.IO packets written (a broadcast counts once per recipient).",
			func(s session.Stats) float64 { return float64(s.PacketsOut) }),
		metrics.Counter("sockgate_broadcasts_total", "Broadcasts delivered on this node, local or from the cluster.",
			func(s session.Stats) float64 { return float64(s.Broadcasts) }),
		metrics.Gauge("sockgate_acks_pending", "Acks the server waits for.",
			func(s session.Stats) float64 { return float64(s.AcksPending) }),
		metrics.Counter("sockgate_handler_panics_total", "Panics recovered in event handlers.",
			func(s session.Stats) float64 { return float64(s.HandlerPanics) }),
		metrics.Counter("sockgate_connect_errors_total", "Namespace connections refused (unknown namespace, middleware).",
			func(s session.Stats) float64 { return float64(s.ConnectErrors) }),
		metrics.Counter("sockgate_parse_errors_total", "Connections closed for a malformed Socket.IO packet.",
			func(s session.Stats) float64 { return float64(s.ParseErrors) }),
		metrics.Counter("sockgate_events_dropped_total", "Client packets dropped over -event-rate.",
			func(s session.Stats) float64 { return float64(s.EventsDropped) }),
		metrics.CounterVec("sockgate_limit_disconnects_total", "Sockets disconnected by a limit, by reason.", []string{"reason"},
			func(s session.Stats, emit func(float64, ...string)) {
				emit(float64(s.RateLimited), "rate limited")
				emit(float64(s.Outrun), "outrun handlers")
			}),
		metrics.Counter("sockgate_acks_refused_total", "EmitWithAck calls refused at -max-acks.",
			func(s session.Stats) float64 { return float64(s.AcksRefused) }),
		metrics.Counter("sockgate_namespaces_refused_total", "Namespace CONNECTs refused at -max-namespaces.",
			func(s session.Stats) float64 { return float64(s.NamespacesRefused) }),
		metrics.Histogram("sockgate_ack_round_trip_seconds", "Time from a server-to-client emit with ack (each recipient of a broadcast) to the client's ack.",
			func(s session.Stats) histogram.Snapshot { return s.AckRoundTrip }),
		metrics.Histogram("sockgate_broadcast_fanout", "Local recipients of each broadcast delivered on this node.",
			func(s session.Stats) histogram.Snapshot { return s.FanOut }),
	))
	type refused struct{ rooms, unserved uint64 }
	g.reg.MustRegister(metrics.NewCollector(func() refused { return refused{g.roomsRefused.Load(), g.unserved.count.Load()} },
		metrics.Counter("sockgate_rooms_refused_total", "Joins refused at -max-rooms.",
			func(r refused) float64 { return float64(r.rooms) }),
		metrics.Counter("sockgate_http_unserved_connections_total",
			"HTTP connections closed before a complete request: headers slower than -read-header-timeout or over -max-header-bytes, early hang-ups.",
			func(r refused) float64 { return float64(r.unserved) }),
	))

	g.reg.MustRegister(engineCollector(g.io.EngineStats))
	g.registerAdapterMetrics()
	g.registerForwardMetrics()
	g.registerBackendMetrics()
	g.registerRecoveryMetrics()
}

func engineCollector(snapshot func() transport.Stats) *metrics.Collector[transport.Stats] {
	type S = transport.Stats
	return metrics.NewCollector(snapshot,
		metrics.GaugeVec("sockgate_engineio_open", "Open Engine.IO sessions by current transport.", []string{"transport"},
			func(s S, emit func(float64, ...string)) {
				emit(float64(s.OpenPolling), "polling")
				emit(float64(s.OpenWebSocket), "websocket")
			}),
		metrics.Counter("sockgate_engineio_handshakes_total", "Engine.IO sessions opened.",
			func(s S) float64 { return float64(s.Handshakes) }),
		metrics.Counter("sockgate_engineio_eio3_handshakes_total", "Engine.IO v3 (socket.io-client 2.x) sessions opened, with -allow-eio3.",
			func(s S) float64 { return float64(s.HandshakesEIO3) }),
		metrics.Counter("sockgate_engineio_upgrades_total", "Polling sessions upgraded to websocket.",
			func(s S) float64 { return float64(s.Upgrades) }),
		metrics.Counter("sockgate_engineio_packets_received_total", "Engine.IO packets received.",
			func(s S) float64 { return float64(s.PacketsIn) }),
		metrics.Counter("sockgate_engineio_packets_sent_total", "Engine.IO packets written.",
			func(s S) float64 { return float64(s.PacketsOut) }),
		metrics.Counter("sockgate_engineio_received_bytes_total", "Engine.IO payload bytes received.",
			func(s S) float64 { return float64(s.BytesIn) }),
		metrics.Counter("sockgate_engineio_sent_bytes_total", "Engine.IO payload bytes written.",
			func(s S) float64 { return float64(s.BytesOut) }),
		metrics.Counter("sockgate_engineio_slow_consumer_closes_total", "Connections closed because their write queue overflowed.",
			func(s S) float64 { return float64(s.SlowConsumerCloses) }),
		metrics.Counter("sockgate_engineio_volatile_dropped_total", "Volatile frames dropped.",
			func(s S) float64 { return float64(s.VolatileDropped) }),
		metrics.CounterVec("sockgate_engineio_closes_total", "Engine.IO sessions closed, by reason.", []string{"reason"},
			func(s S, emit func(float64, ...string)) {
				for _, r := range closeReasons(s.Closes) {
					emit(float64(r.n), r.engineIO)
				}
			}),
		metrics.CounterVec("sockgate_disconnects_total", "Engine.IO sessions closed, by reason (payload_too_large apart from transport_error).", []string{"reason"},
			func(s S, emit func(float64, ...string)) {
				for _, r := range closeReasons(s.Closes) {
					emit(float64(r.n), r.label)
				}
			}),
		metrics.CounterVec("sockgate_engineio_errors_total", "Refused requests and bad input, by kind.", []string{"kind"},
			func(s S, emit func(float64, ...string)) {
				e := s.Errors
				emit(float64(e.UnknownTransport), "unknown_transport")
				emit(float64(e.UnknownSID), "unknown_sid")
				emit(float64(e.BadHandshakeMethod), "bad_handshake_method")
				emit(float64(e.BadRequest), "bad_request")
				emit(float64(e.Forbidden), "forbidden")
				emit(float64(e.UnsupportedProtocol), "unsupported_protocol")
				emit(float64(e.Unavailable), "unavailable")
				emit(float64(e.ParseErrors), "parse_error")
				emit(float64(e.InvalidUTF8), "invalid_utf8")
				emit(float64(e.PayloadTooLarge), "payload_too_large")
				emit(float64(e.DuplicatePoll), "duplicate_poll")
				emit(float64(e.AbortedPoll), "aborted_poll")
				emit(float64(e.WebSocketAccept), "websocket_accept")
				emit(float64(e.DuplicateWS), "duplicate_websocket")
				emit(float64(e.WebSocketFrames), "websocket_protocol")
				emit(float64(e.Panics), "panic")
				emit(float64(e.Origin), "origin")
				emit(float64(e.ConnectionLimit), "connection_limit")
				emit(float64(e.HandshakeRate), "handshake_rate")
			}),
	)
}

// closeReason is one close counter with its labels: the Engine.IO reason
// (sockgate_engineio_closes_total) and the snake-case one
// (sockgate_disconnects_total).
type closeReason struct {
	n               uint64
	engineIO, label string
}

func closeReasons(c transport.ReasonStats) [7]closeReason {
	return [...]closeReason{
		{c.TransportClose, "transport close", "transport_close"},
		{c.TransportError, "transport error", "transport_error"},
		{c.PingTimeout, "ping timeout", "ping_timeout"},
		{c.ParseError, "parse error", "parse_error"},
		{c.ForcedClose, "forced close", "forced_close"},
		{c.ServerShutdown, "server shutting down", "server_shutdown"},
		{c.PayloadTooLarge, "payload too large", "payload_too_large"},
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

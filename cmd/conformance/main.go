// Command conformance serves the contract that the official Engine.IO v4 and
// Socket.IO v5 protocol test suites (socketio/engine.io-protocol and
// socketio/socket.io-protocol, test-suite/) run against, built from sockgate's
// own packages:
//
//	go run ./cmd/conformance [-addr :3000] [-allow-eio3]
//
// Both endpoints use pingInterval 300 ms, pingTimeout 200 ms, maxPayload
// 1,000,000 bytes, CORS for any origin, and accept only EIO=4; with
// -allow-eio3 they accept Engine.IO v3 clients too (the contract of
// engine.io-protocol's v3 test suite).
//
//   - /socket.io/ is a Socket.IO server (pkg/session) with the namespaces "/"
//     and "/custom"; a CONNECT to any other is refused with "Invalid
//     namespace", and an Engine.IO session that connects to no namespace
//     within 1000 ms is closed. On connection each namespace emits "auth"
//     with the CONNECT payload ({} when there is none). On "/", "message"
//     is answered by "message-back" with the same arguments, and
//     "message-with-ack" is acked with the same arguments; binary arguments
//     keep their placeholders and attachments in order.
//   - /engine.io/ is a bare Engine.IO server (pkg/transport) that echoes
//     every message, text or binary.
//
// Two additions serve sockgate's own tests (test/) and are never triggered by
// the official suites:
//
//   - On "/", "emit-with-ack" asks the client for an ack with the same
//     arguments (binary top-level arguments included), then emits
//     "emit-with-ack" with the ack's arguments.
//   - A CONNECT to "/custom" whose payload has a string "reject" is refused
//     by a middleware: connect_error with that message and the data
//     {"reason":"rejected by the test middleware"}.
//
// Every socket disconnection is logged (level INFO, to stderr) with its
// namespace, socket id and reason.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sockgate/sockgate/pkg/protocol/engineio"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
	"github.com/sockgate/sockgate/pkg/session"
	"github.com/sockgate/sockgate/pkg/transport"
)

// The contract's settings.
const (
	pingInterval   = 300 * time.Millisecond
	pingTimeout    = 200 * time.Millisecond
	maxPayload     = 1_000_000
	connectTimeout = 1000 * time.Millisecond
	ackTimeout     = 5 * time.Second
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	allowEIO3 := flag.Bool("allow-eio3", false, "accept Engine.IO v3 clients too")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *allowEIO3, logger); err != nil {
		logger.Error("conformance server failed", "err", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts everything down.
func run(ctx context.Context, addr string, allowEIO3 bool, logger *slog.Logger) error {
	var relays sync.WaitGroup // the emit-with-ack round trips in flight
	sio, err := newSocketIO(logger, allowEIO3, &relays)
	if err != nil {
		return err
	}
	eio, err := transport.NewServer(transport.Config{
		PingInterval: pingInterval,
		PingTimeout:  pingTimeout,
		MaxPayload:   maxPayload,
		AllowEIO3:    allowEIO3,
		CORS:         transport.CORS{Origins: []string{"*"}},
		Logger:       logger,
		Handler:      echo{},
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/socket.io/", sio)
	mux.Handle("/engine.io/", eio)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("conformance server listening", "addr", ln.Addr().String())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	served := false
	select {
	case err = <-serveErr:
		served = true
	case <-ctx.Done():
	}
	var errs []error
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}

	// The Engine.IO servers end their long polls and hijacked websockets;
	// http.Server.Shutdown then finds only idle connections.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs = append(errs, sio.Shutdown(shutdownCtx), eio.Shutdown(shutdownCtx), srv.Shutdown(shutdownCtx))
	if !served {
		if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	relays.Wait()
	return errors.Join(errs...)
}

// newSocketIO builds the /socket.io/ server.
func newSocketIO(logger *slog.Logger, allowEIO3 bool, relays *sync.WaitGroup) (*session.Server, error) {
	sio, err := session.NewServer(session.Config{
		PingInterval:   pingInterval,
		PingTimeout:    pingTimeout,
		MaxPayload:     maxPayload,
		ConnectTimeout: connectTimeout,
		AllowEIO3:      allowEIO3,
		CORS:           transport.CORS{Origins: []string{"*"}},
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}

	onConnection := func(s *session.Socket) {
		s.OnDisconnect(func(s *session.Socket, reason string) {
			logger.Info("socket disconnected", "nsp", s.Namespace().Name(), "id", s.ID(), "reason", reason)
		})
		auth := s.Handshake().Auth
		if auth == nil {
			auth = json.RawMessage("{}")
		}
		if err := s.Emit("auth", auth); err != nil {
			logger.Debug("emit auth", "id", s.ID(), "err", err)
		}
	}

	root := sio.Of("/")
	root.OnConnection(func(s *session.Socket) {
		onConnection(s)
		s.On("message", func(s *session.Socket, ev *session.Event) {
			data := socketio.AppendEvent(nil, "message-back", ev.Args()...)
			if err := s.EmitRaw(data, ev.Attachments); err != nil {
				logger.Debug("emit message-back", "id", s.ID(), "err", err)
			}
		})
		s.On("message-with-ack", func(s *session.Socket, ev *session.Event) {
			if !ev.HasAck() {
				return
			}
			if err := ev.AckRaw(socketio.AppendArray(nil, ev.Args()...), ev.Attachments); err != nil {
				logger.Debug("ack message-with-ack", "id", s.ID(), "err", err)
			}
		})
		s.On("emit-with-ack", func(s *session.Socket, ev *session.Event) {
			args := relayArgs(ev)
			// The round trip waits for the client: off the socket's handler
			// queue, so that the socket's other events keep flowing.
			relays.Add(1)
			go func() {
				defer relays.Done()
				ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
				defer cancel()
				res, err := s.EmitWithAck(ctx, "emit-with-ack", args...)
				if err != nil {
					logger.Debug("emit-with-ack", "id", s.ID(), "err", err)
					return
				}
				data := socketio.AppendEvent(nil, "emit-with-ack", res.Raw()...)
				if err := s.EmitRaw(data, res.Attachments); err != nil {
					logger.Debug("emit-with-ack relay", "id", s.ID(), "err", err)
				}
			}()
		})
	})

	custom := sio.Of("/custom")
	custom.Use(func(s *session.Socket) error {
		var auth struct {
			Reject *string `json:"reject"`
		}
		if raw := s.Handshake().Auth; raw != nil && json.Unmarshal(raw, &auth) == nil && auth.Reject != nil {
			return &session.ConnectError{
				Message: *auth.Reject,
				Data:    map[string]string{"reason": "rejected by the test middleware"},
			}
		}
		return nil
	})
	custom.OnConnection(onConnection)
	return sio, nil
}

// relayArgs returns an event's arguments for Socket.EmitWithAck: raw JSON
// as is, top-level binary arguments as []byte (binary nested deeper is not
// relayed).
func relayArgs(ev *session.Event) []any {
	args := make([]any, len(ev.Args()))
	for i, raw := range ev.Args() {
		if b, ok := ev.Binary(i); ok {
			args[i] = b
		} else {
			args[i] = json.RawMessage(raw)
		}
	}
	return args
}

// echo is the /engine.io/ handler: every message goes back as it came.
type echo struct{}

func (echo) OnOpen(*transport.Conn) {}

func (echo) OnMessage(c *transport.Conn, data []byte, binary bool) {
	frame := engineio.Frame{Data: data, Binary: true}
	if !binary {
		frame = engineio.TextFrame(engineio.PacketMessage, data)
	}
	// An error means the connection is closing; OnClose follows.
	_ = c.Send([]engineio.Frame{frame}, false)
}

func (echo) OnClose(*transport.Conn, string) {}

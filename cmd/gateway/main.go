// Command gateway runs one sockgate node: a Socket.IO gateway serving the
// chat demo at /, Socket.IO at /socket.io/, /metrics, /healthz and /readyz.
//
//	go run ./cmd/gateway                                   # single node, :3000
//	go run ./cmd/gateway -addr :3001 -redis-url redis://127.0.0.1:6379
//
// Every flag has a SOCKGATE_* environment variable; `gateway -h` lists them.
// SIGINT or SIGTERM drains the node and exits 0; a second signal exits at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sockgate/sockgate/internal/config"
	"github.com/sockgate/sockgate/internal/gateway"
	"github.com/sockgate/sockgate/pkg/session"
)

// version is set at build time (make: -ldflags "-X main.version=...").
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Parse("gateway", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gateway:", err)
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, "sockgate", buildVersion())
		return 0
	}
	log := cfg.NewLogger(stderr)
	var jwtKey []byte
	if cfg.JWTPublicKey != "" {
		if jwtKey, err = os.ReadFile(cfg.JWTPublicKey); err != nil {
			log.Error("cannot read the JWT public key", "err", err)
			return 1
		}
	}

	gateway.SetRedisLogger(log)

	gw, err := gateway.New(gateway.Config{
		Addr:              cfg.Addr,
		Version:           buildVersion(),
		RedisURL:          cfg.RedisURL,
		RedisKey:          cfg.RedisKey,
		Forward:           !cfg.Sticky,
		ClusterSecret:     cfg.ClusterSecret,
		AdvertiseAddr:     cfg.AdvertiseAddr,
		RedisAdapter:      cfg.RedisAdapter,
		RedisStreamMaxLen: cfg.RedisStreamMax,
		Recovery: session.RecoveryConfig{
			MaxDisconnection: cfg.Recovery,
			RunMiddlewares:   !cfg.RecoverySkipMW,
			Persist:          session.PersistMode(cfg.RecoveryPersist),
		},
		CORSOrigins:        cfg.CORSOrigins,
		CORSCredentials:    cfg.CORSCredentials,
		Cookie:             cfg.Cookie,
		PingInterval:       cfg.PingInterval,
		PingTimeout:        cfg.PingTimeout,
		MaxPayload:         cfg.MaxPayload,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		DrainDelay:         cfg.DrainDelay,
		AllowEIO3:          cfg.AllowEIO3,
		Path:               cfg.Path,
		ReadyRequiresRedis: cfg.ReadyRequiresRedis,
		Logger:             log,

		AllowedOrigins:    cfg.AllowedOrigins,
		MaxConnections:    cfg.MaxConnections,
		HandshakeRate:     cfg.HandshakeRate,
		EventRate:         cfg.EventRate,
		EventBurst:        cfg.EventBurst,
		MaxRooms:          cfg.MaxRooms,
		MaxAcks:           cfg.MaxAcks,
		MaxNamespaces:     cfg.MaxNamespaces,
		ConnectTimeout:    cfg.ConnectTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		WriteQueueBytes:   cfg.WriteQueueBytes,
		TCPSendBuffer:     cfg.TCPSendBuffer,
		Backend: gateway.BackendConfig{
			APIToken:          cfg.APIToken,
			ConnectURL:        cfg.ConnectURL,
			EventURL:          cfg.EventURL,
			DisconnectURL:     cfg.DisconnectURL,
			ProxyTimeout:      cfg.ProxyTimeout,
			ProxyConcurrency:  cfg.ProxyConcurrency,
			JWTSecret:         cfg.JWTSecret,
			JWTPublicKey:      jwtKey,
			ClientJoin:        cfg.ClientJoin,
			NoClientBroadcast: !cfg.ClientBroadcast,
		},
	})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}

	// The first signal drains; stop() then restores the default handling so
	// that a second one kills the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	if cfg.DebugAddr != "" {
		dbg, err := startDebug(cfg.DebugAddr)
		if err != nil {
			log.Error("cannot start the debug listener", "addr", cfg.DebugAddr, "err", err)
			return 1
		}
		defer dbg.stop()
		log.Info("debug listener: /debug/pprof/", "addr", dbg.ln.Addr().String())
	}
	if err := gw.Run(ctx); err != nil {
		log.Error("gateway stopped", "err", err)
		return 1
	}
	return 0
}

// buildVersion is the -ldflags version, else the module version of a
// `go install`, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Command loadgen load-tests Socket.IO gateways (sockgate or any Socket.IO
// v4 server with the built-in join/leave/message/echo events).
//
//	go run ./loadtest/cmd/loadgen <connect|fanout|echo|churn> [flags]
//
// Progress goes to stderr every few seconds; a JSON summary goes to stdout at
// the end. See loadtest/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/scenario"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: loadgen <%s> [flags]\n", strings.Join(scenario.Names(), "|"))
}

func run(args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage()
		return 2
	}
	name := args[0]
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	var cfg scenario.Config
	nodes := fs.String("nodes", "http://127.0.0.1:3000", "comma-separated node URLs; clients are spread round-robin")
	pids := fs.String("pids", "", "comma-separated node PIDs: CPU and RSS from /proc (else from each node's /metrics)")
	timeout := fs.Duration("timeout", 10*time.Minute, "hard limit on the whole run")
	fs.StringVar(&cfg.Path, "path", "/socket.io/", "Engine.IO path")
	fs.IntVar(&cfg.N, "n", 1000, "connections (connect) or room members (fanout, churn)")
	fs.Float64Var(&cfg.Ramp, "ramp", 0, "new connections per second (0 = as fast as -concurrency allows)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 200, "handshakes in flight at once")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Second, "connect: how long to hold the connections")
	fs.StringVar(&cfg.Room, "room", "bench", "fanout/churn: room to join")
	fs.IntVar(&cfg.Messages, "messages", 1000, "fanout: messages to publish")
	fs.Float64Var(&cfg.Rate, "rate", 0, "fanout/churn: messages per second; echo: total requests per second (0 = unpaced / closed loop)")
	fs.IntVar(&cfg.Payload, "payload", 64, "padding bytes in each message or echo")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "fanout: wait this long without progress for late deliveries")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "echo/churn: how long to run")
	fs.IntVar(&cfg.Clients, "c", 50, "echo: concurrent clients")
	fs.IntVar(&cfg.Stalled, "stalled", 0, "fanout: extra room members that stop reading once joined (slow consumers; not counted in -n)")
	fs.Float64Var(&cfg.ChurnRate, "churn-rate", 100, "churn: connections opened (and closed) per second")
	fs.DurationVar(&cfg.ChurnLife, "churn-life", time.Second, "churn: lifetime of each churning connection")
	fs.DurationVar(&cfg.Settle, "settle", 15*time.Second, "churn: how long nodes may take to return to baseline")
	fs.IntVar(&cfg.RedisPID, "redis-pid", 0, "redis-server PID: its CPU is reported apart")
	fs.StringVar(&cfg.SocketsMetric, "sockets-metric", "", "gauge of connected sockets on /metrics (default: auto-detect)")
	fs.IntVar(&cfg.Sources, "sources", 0, "source addresses 127.0.0.x to dial from (0 = one per 20,000 connections)")
	fs.DurationVar(&cfg.Progress, "progress", 2*time.Second, "progress line period on stderr")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	for _, n := range strings.Split(*nodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			cfg.Nodes = append(cfg.Nodes, n)
		}
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pid, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: bad pid %q\n", p)
			return 2
		}
		cfg.PIDs = append(cfg.PIDs, pid)
	}
	cfg.Log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	sum, err := scenario.Run(ctx, name, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sum); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 1
	}
	return 0
}

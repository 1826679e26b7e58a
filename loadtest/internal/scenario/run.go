package scenario

import (
	"context"
	"fmt"
	"time"
)

// Names lists the scenarios Run knows.
func Names() []string { return []string{"connect", "fanout", "echo", "churn"} }

// Run runs the named scenario and returns its summary. A cancelled ctx ends
// the scenario early; the summary then covers what was done and says so.
func Run(ctx context.Context, name string, cfg Config) (*Summary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var run func(context.Context, Config, *Summary)
	params := map[string]any{"path": cfg.Path, "concurrency": cfg.Concurrency, "ramp_per_s": cfg.Ramp}
	switch name {
	case "connect":
		run = runConnect
		params["n"], params["hold_s"] = cfg.N, cfg.Hold.Seconds()
	case "fanout":
		run = runFanout
		params["n"], params["room"], params["messages"], params["rate_per_s"], params["payload_bytes"] =
			cfg.N, cfg.Room, cfg.Messages, cfg.Rate, cfg.Payload
		params["stalled"] = cfg.Stalled
	case "echo":
		run = runEcho
		params["clients"], params["rate_per_s"], params["payload_bytes"], params["duration_s"] =
			cfg.Clients, cfg.Rate, cfg.Payload, cfg.Duration.Seconds()
	case "churn":
		run = runChurn
		params["n"], params["room"], params["rate_per_s"], params["payload_bytes"], params["duration_s"] =
			cfg.N, cfg.Room, cfg.Rate, cfg.Payload, cfg.Duration.Seconds()
		params["churn_rate_per_s"], params["churn_life_s"] = cfg.ChurnRate, cfg.ChurnLife.Seconds()
	default:
		return nil, fmt.Errorf("scenario: unknown scenario %q (want one of %v)", name, Names())
	}
	sum := &Summary{Scenario: name, Nodes: cfg.Nodes, Params: params, StartedAt: time.Now()}
	run(ctx, cfg, sum)
	sum.Seconds = time.Since(sum.StartedAt).Seconds()
	sum.Interrupted = ctx.Err() != nil
	return sum, nil
}

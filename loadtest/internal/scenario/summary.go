package scenario

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/hist"
)

// Summary is the JSON document loadgen prints at the end of a run. Only the
// section of the scenario that ran is filled in.
type Summary struct {
	Scenario    string         `json:"scenario"`
	Nodes       []string       `json:"nodes"`
	Params      map[string]any `json:"params"`
	StartedAt   time.Time      `json:"started_at"`
	Seconds     float64        `json:"elapsed_s"`
	Interrupted bool           `json:"interrupted,omitempty"`
	Connect     *ConnectResult `json:"connect,omitempty"`
	Fanout      *FanoutResult  `json:"fanout,omitempty"`
	Echo        *EchoResult    `json:"echo,omitempty"`
	Churn       *ChurnResult   `json:"churn,omitempty"`
	Server      *ServerCost    `json:"server,omitempty"`
	Client      ClientCounters `json:"client"`
	Errors      map[string]int `json:"errors,omitempty"`
}

// ConnectResult reports the opening of connections.
type ConnectResult struct {
	Attempted   int          `json:"attempted"`
	Connected   int64        `json:"connected"`
	Failed      int64        `json:"failed"`
	Seconds     float64      `json:"seconds"`
	RatePerSec  float64      `json:"rate_per_s"`
	Handshake   hist.Summary `json:"handshake"`
	AliveAtEnd  int          `json:"alive_at_end,omitempty"`
	HeldSeconds float64      `json:"held_s,omitempty"`
}

// ClientCounters are the generator's own protocol counters.
type ClientCounters struct {
	PingsAnswered  int64 `json:"pings_answered"`
	FramesIn       int64 `json:"frames_in"`
	FramesOut      int64 `json:"frames_out"`
	ProtocolErrors int64 `json:"protocol_errors"`
}

func (d *dialer) clientCounters() ClientCounters {
	return ClientCounters{
		PingsAnswered:  d.counters.PingsAnswered.Load(),
		FramesIn:       d.counters.FramesIn.Load(),
		FramesOut:      d.counters.FramesOut.Load(),
		ProtocolErrors: d.counters.ProtocolError.Load(),
	}
}

func (d *dialer) connectResult(attempted int, elapsed time.Duration) *ConnectResult {
	ok := d.ok.Load()
	return &ConnectResult{
		Attempted:  attempted,
		Connected:  ok,
		Failed:     d.failed.Load(),
		Seconds:    elapsed.Seconds(),
		RatePerSec: ratio(float64(ok), elapsed.Seconds()),
		Handshake:  d.handshake.Summarize(),
	}
}

// progress prints line() on w every period until stop is called.
func progress(ctx context.Context, w io.Writer, period time.Duration, line func() string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintf(w, "[%6.1fs] %s\n", time.Since(start).Seconds(), line())
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// sleepCtx sleeps for d or until ctx is done; it reports whether it slept fully.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

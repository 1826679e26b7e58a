package scenario

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/client"
	"github.com/sockgate/sockgate/loadtest/internal/hist"
)

// connsPerSource is how many connections one source address carries; the
// default ephemeral port range (32768–60999) has ~28k ports.
const connsPerSource = 20000

// dialer opens clients across the nodes, from spread source addresses,
// counting handshakes and failures.
type dialer struct {
	cfg      Config
	sources  []*http.Client
	counters *client.Counters

	ok        atomic.Int64
	failed    atomic.Int64
	handshake hist.Histogram

	errMu  sync.Mutex
	errors map[string]int // distinct failure messages (bounded)
}

func newDialer(cfg Config, total int) *dialer {
	n := cfg.Sources
	if n == 0 {
		n = (total + connsPerSource - 1) / connsPerSource
	}
	d := &dialer{cfg: cfg, counters: new(client.Counters), errors: map[string]int{}}
	if n > 1 {
		d.sources = client.LoopbackClients(n)
	}
	return d
}

// dial opens one client; i picks the node and the source address.
func (d *dialer) dial(ctx context.Context, i int, opts client.Options) (*client.Client, error) {
	opts.Path = d.cfg.Path
	opts.Counters = d.counters
	node := d.cfg.Nodes[i%len(d.cfg.Nodes)]
	if len(d.sources) > 0 && opts.HTTPClient == nil {
		opts.HTTPClient = d.sources[(i/len(d.cfg.Nodes))%len(d.sources)]
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := client.Dial(ctx, node, opts)
	if err != nil {
		d.failed.Add(1)
		d.noteError(err)
		return nil, err
	}
	d.handshake.RecordDuration(time.Since(start))
	d.ok.Add(1)
	return c, nil
}

func (d *dialer) noteError(err error) {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	if _, ok := d.errors[msg]; ok || len(d.errors) < 20 {
		d.errors[msg]++
	}
}

func (d *dialer) errorSample() map[string]int {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	if len(d.errors) == 0 {
		return nil
	}
	out := make(map[string]int, len(d.errors))
	for k, v := range d.errors {
		out[k] = v
	}
	return out
}

// openAll opens n clients paced at cfg.Ramp per second with at most
// cfg.Concurrency handshakes in flight. setup, if set, runs on each new
// client before it counts (e.g. joining a room); a setup error closes the
// client and counts as a failure. It returns the clients that succeeded,
// in no particular order, and stops early when ctx is done.
func (d *dialer) openAll(ctx context.Context, n int, opts func(i int) client.Options, setup func(context.Context, int, *client.Client) error) []*client.Client {
	var (
		mu      sync.Mutex
		clients = make([]*client.Client, 0, n)
		wg      sync.WaitGroup
		sem     = make(chan struct{}, d.cfg.Concurrency)
	)
	start := time.Now()
loop:
	for i := range n {
		if d.cfg.Ramp > 0 {
			due := start.Add(time.Duration(float64(i) / d.cfg.Ramp * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					break loop
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var o client.Options
			if opts != nil {
				o = opts(i)
			}
			c, err := d.dial(ctx, i, o)
			if err != nil {
				return
			}
			if setup != nil {
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := setup(sctx, i, c)
				cancel()
				if err != nil {
					d.ok.Add(-1)
					d.failed.Add(1)
					d.noteError(err)
					c.Abort()
					return
				}
			}
			mu.Lock()
			clients = append(clients, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return clients
}

// closeAll closes clients with bounded parallelism.
func closeAll(clients []*client.Client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
}

// alive counts the clients whose connection has not ended.
func alive(clients []*client.Client) int {
	n := 0
	for _, c := range clients {
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// joinRoom is a setup step: emit the built-in join with an ack and expect true.
func joinRoom(room string) func(context.Context, int, *client.Client) error {
	arg := jsonString(room)
	return func(ctx context.Context, _ int, c *client.Client) error {
		args, err := c.Call(ctx, "join", arg)
		if err != nil {
			return err
		}
		if len(args) == 0 || string(args[0]) != "true" {
			return errJoinRefused(args)
		}
		return nil
	}
}

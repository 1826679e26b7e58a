package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pubItem is one message waiting to be published.
type pubItem struct {
	channel string
	payload []byte
	sharded bool       // SPUBLISH instead of PUBLISH
	done    chan error // optional, buffered: receives the outcome

	// stream, if set, makes this an XADD of values (MAXLEN ~ maxLen) to
	// that stream instead of a publish; channel and payload are unused.
	stream string
	values []string
	maxLen int64
	// after, if set, runs on the publisher goroutine once the pipeline has
	// returned, in queue order, with the entry ID of an XADD.
	after func(id string, err error)
}

func (it *pubItem) size() int {
	n := len(it.payload)
	for _, v := range it.values {
		n += len(v)
	}
	return n
}

// publisher owns the publish queue: producers enqueue without blocking and
// one goroutine sends what has accumulated as one pipeline, so messages keep
// the order in which they were enqueued and no producer waits for Redis.
type publisher struct {
	a     *Adapter
	queue chan pubItem
	quit  chan struct{}
	once  sync.Once

	dropLogged atomic.Bool  // a full queue was logged during this episode
	bytes      atomic.Int64 // payload bytes queued or being sent

	mu      sync.Mutex
	lastErr error // nil after a successful pipeline
}

const maxBatch = 256

// probeInterval is how often a failing publisher pings Redis, so that its
// health comes back soon after Redis does even when nothing is published.
const probeInterval = 100 * time.Millisecond

func (p *publisher) init(a *Adapter) {
	p.a = a
	p.queue = make(chan pubItem, a.cfg.PublishQueueSize)
	p.quit = make(chan struct{})
}

var errQueueFull = errors.New("redis: publish queue full")

// enqueue queues it, or drops it (counted, logged once per episode) when the
// queue is full by count or by bytes (PublishQueueBytes).
func (p *publisher) enqueue(it pubItem) bool {
	size := int64(it.size())
	if total := p.bytes.Add(size); total <= int64(p.a.cfg.PublishQueueBytes) || total == size {
		select {
		case p.queue <- it:
			return true
		default:
		}
	}
	p.bytes.Add(-size)
	p.a.stats.publishDropped.Add(1)
	if !p.dropLogged.Swap(true) {
		p.a.log.Warn("redis adapter: publish queue full, dropping messages",
			"messages", cap(p.queue), "bytes", p.a.cfg.PublishQueueBytes)
	}
	if it.done != nil {
		it.done <- errQueueFull
	}
	if it.after != nil {
		it.after("", errQueueFull)
	}
	return false
}

func (p *publisher) stop() { p.once.Do(func() { close(p.quit) }) }

func (p *publisher) health() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

func (p *publisher) run() {
	defer p.a.wg.Done()
	batch := make([]pubItem, 0, maxBatch)
	probe := time.NewTimer(probeInterval)
	defer probe.Stop()
	for {
		if p.health() != nil {
			probe.Reset(probeInterval)
		} else {
			probe.Stop()
		}
		select {
		case it := <-p.queue:
			batch = append(batch[:0], it)
		case <-probe.C:
			p.probe()
			continue
		case <-p.quit:
			p.flush(batch[:0])
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case it := <-p.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		p.send(context.Background(), batch, 5*time.Second)
		p.release(batch)
		clear(batch) // drop references to payloads
	}
}

// release returns the bytes of a sent batch to the budget; once the queue
// has drained, the next overflow is logged again.
func (p *publisher) release(batch []pubItem) {
	var size int64
	for _, it := range batch {
		size += int64(it.size())
	}
	p.bytes.Add(-size)
	if len(p.queue) == 0 && p.dropLogged.Load() {
		p.dropLogged.Store(false)
	}
}

// flush sends what is still queued at Close, giving Redis a second.
func (p *publisher) flush(batch []pubItem) {
	for {
		select {
		case it := <-p.queue:
			batch = append(batch, it)
			continue
		default:
		}
		break
	}
	if len(batch) > 0 {
		p.send(context.Background(), batch, time.Second)
		p.release(batch)
	}
}

func (p *publisher) send(ctx context.Context, batch []pubItem, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pipe := p.a.client.Pipeline()
	for _, it := range batch {
		switch {
		case it.stream != "":
			pipe.XAdd(ctx, &goredis.XAddArgs{Stream: it.stream, MaxLen: it.maxLen, Approx: true, ID: "*", Values: it.values})
		case it.sharded:
			pipe.SPublish(ctx, it.channel, it.payload)
		default:
			pipe.Publish(ctx, it.channel, it.payload)
		}
	}
	start := time.Now()
	cmds, err := pipe.Exec(ctx)
	p.a.stats.publishLatency.ObserveSince(start)
	failed := 0
	for i, it := range batch {
		var e error
		if i < len(cmds) {
			e = cmds[i].Err()
		} else {
			e = err
		}
		if e != nil {
			failed++
		}
		if it.done != nil {
			it.done <- e
		}
		if it.after != nil {
			id := ""
			if e == nil && i < len(cmds) {
				if c, ok := cmds[i].(*goredis.StringCmd); ok {
					id = c.Val()
				}
			}
			it.after(id, e)
		}
	}
	c := &p.a.stats
	c.published.Add(uint64(len(batch) - failed))
	c.publishErrors.Add(uint64(failed))

	if failed > 0 && err == nil {
		err = errors.New("publish failed")
	}
	p.setHealth(err)
}

// probe pings Redis while publishing fails.
func (p *publisher) probe() {
	ctx, cancel := context.WithTimeout(p.a.ctx, time.Second)
	defer cancel()
	err := p.a.client.Ping(ctx).Err()
	if p.a.ctx.Err() != nil {
		return // closing
	}
	p.setHealth(err)
}

// setHealth records the outcome of a pipeline or probe (nil: success) and
// logs the transitions.
func (p *publisher) setHealth(err error) {
	p.mu.Lock()
	wasFailing := p.lastErr != nil
	p.lastErr = err
	p.mu.Unlock()
	failed := err != nil
	switch {
	case failed && !wasFailing:
		p.a.log.Warn("redis adapter: publishing fails; messages are dropped until Redis answers", "err", err)
	case !failed && wasFailing:
		p.a.log.Info("redis adapter: publishing works again")
		p.dropLogged.Store(false)
	}
}

package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/pkg/session"
)

// Config configures a Proxy. Set at least one URL.
type Config struct {
	// ConnectURL receives every CONNECT; empty: Connect accepts everyone.
	ConnectURL string
	// EventURL receives client events; empty: Event acks an error.
	EventURL string
	// DisconnectURL is told about disconnections; empty: none.
	DisconnectURL string
	// Timeout bounds one request, waiting for a free slot included.
	// Default 5s.
	Timeout time.Duration
	// Concurrency bounds the requests in flight at once. Default 256.
	Concurrency int
	// Client sends the requests. Default: a client of its own whose
	// transport keeps up to Concurrency idle connections per host, each
	// for up to 4s.
	Client *http.Client
	// Claims, if set, returns what a socket's "claims" field carries (e.g.
	// jwtauth.Claims); values that marshal to null are left out.
	Claims func(s *session.Socket) any
	// Logger receives the proxy's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 256

	// ErrorMessage is what a client hears when the backend fails.
	ErrorMessage = "backend unavailable"

	maxAnswerBytes     = 4 << 20 // a backend's answer
	idleConnTimeout    = 4 * time.Second
	disconnectWorkers  = 4
	disconnectQueue    = 4096
	disconnectAttempts = 3
)

// Proxy calls the backend. Its methods may be called concurrently.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	ownTr  *http.Transport // closed by Close when the client is ours
	slots  chan struct{}   // Concurrency

	// base is canceled by Close: requests still running fail.
	base   context.Context
	cancel context.CancelFunc

	discMu     sync.RWMutex
	discClosed bool
	disc       chan disconnectRequest
	workers    sync.WaitGroup

	stats      counters
	lastWarn   atomic.Int64 // unix nanos of the last failure log
	suppressed atomic.Uint64
}

type counters struct {
	connect, event, disconnect kindCounters
	disconnectDropped          atomic.Uint64
	inFlight                   atomic.Int64
}

type kindCounters struct {
	requests, failures atomic.Uint64
	nanos              atomic.Int64 // summed request durations
}

// Stats is a snapshot of a Proxy's counters.
type Stats struct {
	Connect, Event, Disconnect KindStats
	// DisconnectsDropped counts notifications dropped because the queue
	// was full or the proxy closed.
	DisconnectsDropped uint64
	InFlight           int64 // requests at the backend now
}

// KindStats counts the requests of one kind.
type KindStats struct {
	Requests uint64        // requests sent (each retry counts)
	Failures uint64        // of which failed
	Duration time.Duration // summed time of the requests
}

func (k *kindCounters) snapshot() KindStats {
	return KindStats{Requests: k.requests.Load(), Failures: k.failures.Load(), Duration: time.Duration(k.nanos.Load())}
}

// New returns a proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.ConnectURL == "" && cfg.EventURL == "" && cfg.DisconnectURL == "" {
		return nil, errors.New("proxy: no backend URL")
	}
	for name, u := range map[string]string{"connect": cfg.ConnectURL, "event": cfg.EventURL, "disconnect": cfg.DisconnectURL} {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("proxy: %s URL %q: want http:// or https:// with a host", name, u)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, client: cfg.Client, slots: make(chan struct{}, cfg.Concurrency)}
	if p.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = cfg.Concurrency
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		tr.MaxConnsPerHost = cfg.Concurrency
		// A POST is not retried on a keep-alive connection the backend
		// has just closed; closing idle ones first, sooner than common
		// backends do (Node.js: 5s), avoids most such failures.
		tr.IdleConnTimeout = idleConnTimeout
		p.ownTr = tr
		p.client = &http.Client{Transport: tr}
	}
	p.base, p.cancel = context.WithCancel(context.Background())
	if cfg.DisconnectURL != "" {
		p.disc = make(chan disconnectRequest, disconnectQueue)
		for range disconnectWorkers {
			p.workers.Go(p.disconnectWorker)
		}
	}
	return p, nil
}

// Attach wires the configured proxies onto a namespace: Connect as its
// middleware, Event as the handler of every event, Disconnect on every
// socket.
func (p *Proxy) Attach(n *session.Namespace) {
	if p.cfg.ConnectURL != "" {
		n.Use(p.Connect)
	}
	if p.cfg.EventURL == "" && p.cfg.DisconnectURL == "" {
		return
	}
	n.OnConnection(func(s *session.Socket) {
		if p.cfg.EventURL != "" {
			s.OnAny(p.Event)
		}
		if p.cfg.DisconnectURL != "" {
			s.OnDisconnect(p.Disconnect)
		}
	})
}

// Close stops the disconnect workers once they have sent what is queued
// or ctx ends (then what is left is dropped), fails the requests still
// running, and closes idle connections.
func (p *Proxy) Close(ctx context.Context) error {
	p.discMu.Lock()
	already := p.discClosed
	p.discClosed = true
	if !already && p.disc != nil {
		close(p.disc)
	}
	p.discMu.Unlock()
	done := make(chan struct{})
	go func() {
		p.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.cancel()
	<-done
	if p.ownTr != nil {
		p.ownTr.CloseIdleConnections()
	}
	return err
}

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() Stats {
	c := &p.stats
	return Stats{
		Connect:            c.connect.snapshot(),
		Event:              c.event.snapshot(),
		Disconnect:         c.disconnect.snapshot(),
		DisconnectsDropped: c.disconnectDropped.Load(),
		InFlight:           c.inFlight.Load(),
	}
}

// errStatus is a backend answer with another status than 200.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("proxy: backend answered HTTP %d", int(e)) }

// call POSTs body as JSON to u and decodes a 200 answer into answer (nil:
// the answer is discarded). It waits for a free slot first; the whole call
// takes at most Config.Timeout, and ends when Close does.
func (p *Proxy) call(k *kindCounters, u string, body, answer any) error {
	ctx, cancel := context.WithTimeout(p.base, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	k.requests.Add(1)
	err := p.do(ctx, u, body, answer)
	k.nanos.Add(int64(time.Since(start)))
	if err != nil {
		k.failures.Add(1)
	}
	return err
}

func (p *Proxy) do(ctx context.Context, u string, body, answer any) error {
	// Raw arguments keep their bytes: no HTML escaping of <, > and &.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("proxy: waiting for a free slot: %w", ctx.Err())
	}
	defer func() { <-p.slots }()
	p.stats.inFlight.Add(1)
	defer p.stats.inFlight.Add(-1)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &b)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sockgate")
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswerBytes)) // lets the connection be reused
		return errStatus(res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("proxy: reading the answer: %w", err)
	}
	if len(data) > maxAnswerBytes {
		return fmt.Errorf("proxy: answer larger than %d bytes", maxAnswerBytes)
	}
	if answer == nil {
		return nil
	}
	if err := json.Unmarshal(data, answer); err != nil {
		return fmt.Errorf("proxy: bad answer: %w", err)
	}
	return nil
}

// warn logs a backend failure, at most once a second (with the number of
// failures not logged since), so that a dead backend does not flood the log.
func (p *Proxy) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := p.lastWarn.Load()
	if now-last < int64(time.Second) || !p.lastWarn.CompareAndSwap(last, now) {
		p.suppressed.Add(1)
		return
	}
	if n := p.suppressed.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	p.log.Warn(msg, args...)
}

// claims is the JSON of the socket's claims, nil when there are none.
func (p *Proxy) claims(s *session.Socket) json.RawMessage {
	if p.cfg.Claims == nil {
		return nil
	}
	b, err := json.Marshal(p.cfg.Claims(s))
	if err != nil || string(b) == "null" {
		return nil
	}
	return b
}

// socketData is the JSON of a socket's data (null when unset).
func socketData(s *session.Socket) json.RawMessage {
	switch v := s.Data().(type) {
	case nil:
		return json.RawMessage("null")
	case json.RawMessage:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return json.RawMessage("null")
		}
		return b
	}
}

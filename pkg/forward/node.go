package forward

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/histogram"
)

// Config configures a Node. The zero value of each field means its default.
type Config struct {
	// Redis holds the node registry. Required; the Node does not close it.
	Redis goredis.UniversalClient
	// Key prefixes the registry's keys; nodes with different keys do not
	// see each other. Default "socket.io".
	Key string
	// Secret authenticates node-to-node requests; every node of the cluster
	// has the same. Required, at least 16 bytes.
	Secret []byte
	// MaxBodyBytes bounds the polling POST bodies forwarded; give it the
	// transport's MaxPayload. Default 1,000,000.
	MaxBodyBytes int
	// TTL is how long a node's registry entry outlives its last heartbeat;
	// heartbeats come every TTL/3. Default 15s.
	TTL time.Duration
	// MaxClockSkew is how far a forwarded request's timestamp may be from
	// the receiver's clock. Default 30s.
	MaxClockSkew time.Duration
	// DialTimeout bounds connecting to another node. Default 3s.
	DialTimeout time.Duration
	// Transport carries forwarded requests. Default: an http.Transport
	// keeping idle connections to each node.
	Transport http.RoundTripper
	// Logger receives the package's logs. Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultKey          = "socket.io"
	DefaultMaxBodyBytes = 1_000_000
	DefaultTTL          = 15 * time.Second
	DefaultMaxClockSkew = 30 * time.Second
	DefaultDialTimeout  = 3 * time.Second
	MinSecretBytes      = 16
)

// idBytes random bytes make a node id of idLen URL-safe base64 characters.
const (
	idBytes = 6
	idLen   = 8
	idSep   = "."
)

// Node is this process's member of the forwarding cluster.
type Node struct {
	cfg       Config
	log       *slog.Logger
	id        string
	key       string // this node's registry key
	transport http.RoundTripper
	ownsTr    *http.Transport // closed in Close when the Node built it

	cacheMu sync.Mutex
	cache   map[string]cacheEntry // node id -> address

	mu      sync.Mutex
	addr    string // advertised, set by Start
	started bool
	closed  bool
	stopHB  context.CancelFunc
	hbDone  chan struct{}

	// Forwards in flight: websockets stop when wsCtx ends (Close), polling
	// requests when allCtx ends (Close's ctx ended first).
	inflight      sync.WaitGroup
	wsCtx, allCtx context.Context
	stopWS        context.CancelFunc
	stopAll       context.CancelFunc

	errLog   *log.Logger // the proxy's, at debug level
	stats    counters
	rejectLg limitedLog
}

type cacheEntry struct {
	addr  string
	until time.Time
}

// New returns a Node with a new random id, or an error if cfg is invalid.
// Call Start to register it.
func New(cfg Config) (*Node, error) {
	if cfg.Redis == nil {
		return nil, errors.New("forward: Config.Redis is required")
	}
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("forward: Config.Secret must have at least %d bytes", MinSecretBytes)
	}
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes < 0 || cfg.TTL < 0 || cfg.MaxClockSkew < 0 || cfg.DialTimeout < 0 {
		return nil, errors.New("forward: negative duration or size in Config")
	}
	if cfg.TTL < 3*time.Millisecond {
		return nil, errors.New("forward: Config.TTL too short")
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	var b [idBytes]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	n := &Node{
		cfg:   cfg,
		log:   cfg.Logger,
		id:    id,
		key:   registryKey(cfg.Key, id),
		cache: make(map[string]cacheEntry),
	}
	n.transport = cfg.Transport
	if n.transport == nil {
		n.ownsTr = &http.Transport{
			Proxy:               nil, // node to node, never through an HTTP proxy
			DialContext:         (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 1024, // a long-polling GET holds a connection each
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
		n.transport = n.ownsTr
	}
	for k := range n.stats.latency {
		n.stats.latency[k] = histogram.New(latencyBounds...)
	}
	n.wsCtx, n.stopWS = context.WithCancel(context.Background())
	n.allCtx, n.stopAll = context.WithCancel(context.Background())
	n.errLog = slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)
	n.rejectLg = limitedLog{log: n.log, every: 10 * time.Second}
	return n, nil
}

func registryKey(prefix, id string) string { return prefix + "#sockgate#node#" + id }

// ID is the node's id, which starts every session id it issues.
func (n *Node) ID() string { return n.id }

// SessionIDPrefix is what transport.Config.SessionIDPrefix must be for the
// sessions of this node to be found by the others.
func (n *Node) SessionIDPrefix() string { return n.id + idSep }

// Addr is the address Start registered ("" before).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// ownerOf returns the node id a session id starts with.
func ownerOf(sid string) (string, bool) {
	id, _, ok := strings.Cut(sid, idSep)
	if !ok || len(id) != idLen {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return id, true
}

// Start registers the node under advertiseAddr (host:port, how the other
// nodes reach this one) and starts its heartbeat. It fails if Redis does
// not take the first registration.
func (n *Node) Start(ctx context.Context, advertiseAddr string) error {
	if err := checkAddr(advertiseAddr); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("forward: node closed")
	}
	if n.started {
		return errors.New("forward: node already started")
	}
	if err := n.cfg.Redis.Set(ctx, n.key, advertiseAddr, n.cfg.TTL).Err(); err != nil {
		return fmt.Errorf("forward: register node: %w", err)
	}
	n.addr, n.started = advertiseAddr, true
	hctx, stop := context.WithCancel(context.Background())
	n.stopHB, n.hbDone = stop, make(chan struct{})
	go n.heartbeat(hctx, advertiseAddr)
	return nil
}

// checkAddr accepts host:port with a host other nodes can dial.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return fmt.Errorf("forward: advertise address %q is not host:port", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("forward: advertise address %q has no host other nodes can reach", addr)
	}
	return nil
}

// heartbeat refreshes the registry entry every TTL/3 until ctx ends.
func (n *Node) heartbeat(ctx context.Context, addr string) {
	defer close(n.hbDone)
	t := time.NewTicker(n.cfg.TTL / 3)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, n.cfg.TTL/3)
		err := n.cfg.Redis.Set(sctx, n.key, addr, n.cfg.TTL).Err()
		cancel()
		n.stats.heartbeats.Add(1)
		switch {
		case err != nil && ctx.Err() == nil:
			n.stats.heartbeatErrors.Add(1)
			if !failing {
				n.log.Warn("forward: heartbeat failed; other nodes cannot forward to this one once the registry entry expires", "node", n.id, "err", err)
			}
			failing = true
		case err == nil && failing:
			n.log.Info("forward: heartbeat recovered", "node", n.id)
			failing = false
		}
	}
}

// lookup returns the address of node id, "" if it is not registered.
func (n *Node) lookup(ctx context.Context, id string) (string, error) {
	now := time.Now()
	n.cacheMu.Lock()
	e, ok := n.cache[id]
	n.cacheMu.Unlock()
	if ok && now.Before(e.until) {
		return e.addr, nil
	}
	addr, err := n.cfg.Redis.Get(ctx, registryKey(n.cfg.Key, id)).Result()
	if errors.Is(err, goredis.Nil) {
		n.forget(id)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	n.cacheMu.Lock()
	// Only registered nodes are cached, each for a third of the TTL; expired
	// entries go as others come in, so the map holds about the live nodes.
	for k, v := range n.cache {
		if now.After(v.until) {
			delete(n.cache, k)
		}
	}
	n.cache[id] = cacheEntry{addr: addr, until: now.Add(n.cfg.TTL / 3)}
	n.cacheMu.Unlock()
	return addr, nil
}

// forget drops a cached address (the node did not answer there).
func (n *Node) forget(id string) {
	n.cacheMu.Lock()
	delete(n.cache, id)
	n.cacheMu.Unlock()
}

// Close stops the heartbeat, ends the websockets this node relays for
// other nodes, waits for the polling requests it is forwarding (until ctx
// ends, then cuts them), and removes the node from the registry. It is
// idempotent.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	started := n.started
	n.mu.Unlock()

	n.stopWS()
	done := make(chan struct{})
	go func() {
		n.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		n.stopAll()
		<-done
	}
	n.stopAll()
	var err error
	if started {
		n.stopHB()
		<-n.hbDone
		// Unregister even when ctx has ended: a stale entry would make the
		// other nodes try this one until it expires.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		if derr := n.cfg.Redis.Del(dctx, n.key).Err(); derr != nil {
			err = fmt.Errorf("forward: unregister node: %w", derr)
		}
		cancel()
	}
	if n.ownsTr != nil {
		n.ownsTr.CloseIdleConnections()
	}
	return err
}

// begin counts a forward in flight, unless the node is closed.
func (n *Node) begin() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.inflight.Add(1)
	return true
}

// limitedLog logs at most one warning per interval, with the number of
// those it left out.
type limitedLog struct {
	log        *slog.Logger
	every      time.Duration
	last       atomic.Int64 // unix nanos of the last line
	suppressed atomic.Int64
}

func (l *limitedLog) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(l.every) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	if s := l.suppressed.Swap(0); s > 0 {
		args = append(args, "suppressed", s)
	}
	l.log.Warn(msg, args...)
}

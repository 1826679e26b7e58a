package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/adapter"
)

// Adapter is the Redis adapter of one node. It implements adapter.Adapter
// and adapter.Health.
type Adapter struct {
	cfg       Config
	client    goredis.UniversalClient
	ownClient bool
	uid       string
	log       *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pub    publisher
	subs   subscriptions
	reader streamReader // streams format

	mu         sync.RWMutex
	namespaces map[string]*namespace
	closed     bool

	stats counters

	badMu     sync.Mutex
	badLogged map[string]struct{} // channel + reason already logged
}

var (
	_ adapter.Adapter = (*Adapter)(nil)
	_ adapter.Health  = (*Adapter)(nil)
)

// New starts an adapter: its publisher goroutine and its subscriber
// connection. Namespaces subscribe when the session layer creates them.
func New(cfg Config) (*Adapter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Adapter{
		cfg:        cfg,
		client:     cfg.Client,
		log:        cfg.Logger.With("component", "redis-adapter"),
		namespaces: make(map[string]*namespace),
		badLogged:  make(map[string]struct{}),
	}
	if a.client == nil {
		if a.client, err = NewClient(cfg.URL); err != nil {
			return nil, err
		}
		a.ownClient = true
	}
	if cfg.Sharded || cfg.Streams {
		a.uid = randomHex(8) // ClusterAdapter: 16 hex characters
	} else {
		a.uid = randomUID(6) // uid2(6)
	}
	a.log = a.log.With("uid", a.uid)
	a.stats.init()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.pub.init(a)
	a.subs.init(a)
	a.wg.Add(1)
	go a.pub.run()
	if cfg.Streams {
		a.startStreams()
	}
	return a, nil
}

// UID is the node id this adapter publishes with.
func (a *Adapter) UID() string { return a.uid }

// Namespace subscribes to the channels of local's namespace and returns its
// adapter. Each namespace may be attached once.
func (a *Adapter) Namespace(local adapter.Local) (adapter.Namespace, error) {
	name := local.Name()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, adapter.ErrClosed
	}
	if _, ok := a.namespaces[name]; ok {
		return nil, fmt.Errorf("redis: namespace %q is already attached", name)
	}
	n := newNamespace(a, local)
	a.namespaces[name] = n
	n.subscribe()
	return n, nil
}

func (a *Adapter) namespace(name string) *namespace {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.namespaces[name]
}

func (a *Adapter) detach(n *namespace) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.namespaces[n.name] == n {
		delete(a.namespaces, n.name)
	}
}

// Close unsubscribes, stops publishing (messages still queued are sent if
// Redis answers within a second) and waits for every goroutine.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	nss := make([]*namespace, 0, len(a.namespaces))
	for _, n := range a.namespaces {
		nss = append(nss, n)
	}
	a.mu.Unlock()
	for _, n := range nss {
		n.shutdown()
	}
	a.pub.stop()
	a.cancel()
	a.subs.close()
	a.reader.closeReaders()
	a.wg.Wait()
	if a.ownClient {
		return a.client.Close()
	}
	return nil
}

func (a *Adapter) isClosed() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.closed
}

// ErrDegraded is wrapped by Health while Redis is unreachable.
var ErrDegraded = errors.New("redis: adapter degraded")

// Health reports whether the node is connected to its cluster: nil while
// the subscriber is connected and the last publish succeeded.
func (a *Adapter) Health() error {
	if a.isClosed() {
		return adapter.ErrClosed
	}
	if err := a.subs.health(); err != nil {
		return fmt.Errorf("%w: subscriber: %v", ErrDegraded, err)
	}
	if err := a.pub.health(); err != nil {
		return fmt.Errorf("%w: publisher: %v", ErrDegraded, err)
	}
	if err := a.reader.health(); err != nil {
		return fmt.Errorf("%w: stream reader: %v", ErrDegraded, err)
	}
	return nil
}

// Channel kinds, from the channel name.
type channelKind uint8

const (
	kindBroadcast channelKind = iota + 1 // classic <key>#<nsp>#[room#], sharded: every channel
	kindRequest                          // classic <key>-request#<nsp>#
	kindResponse                         // classic <key>-response#<nsp>#[uid#]
)

// parseChannel splits a channel into its kind, namespace and the rest after
// "<nsp>#" (a room or uid followed by "#", or "").
func (a *Adapter) parseChannel(ch string) (kind channelKind, nsp, rest string, ok bool) {
	key := a.cfg.Key
	if !strings.HasPrefix(ch, key) {
		return 0, "", "", false
	}
	s := ch[len(key):]
	switch {
	case strings.HasPrefix(s, "#"):
		kind, s = kindBroadcast, s[1:]
	case strings.HasPrefix(s, "-request#"):
		kind, s = kindRequest, s[len("-request#"):]
	case strings.HasPrefix(s, "-response#"):
		kind, s = kindResponse, s[len("-response#"):]
	default:
		return 0, "", "", false
	}
	i := strings.IndexByte(s, '#')
	if i < 0 {
		return 0, "", "", false
	}
	return kind, s[:i], s[i+1:], true
}

// dispatch handles one message from a subscriber goroutine. It never blocks
// on Redis and never panics.
func (a *Adapter) dispatch(ch, payload string) {
	defer func() {
		if p := recover(); p != nil {
			a.bad(ch, reasonPanic, fmt.Errorf("panic: %v", p))
		}
	}()
	a.stats.received.Add(1)
	if len(payload) > a.cfg.MaxMessageSize {
		a.bad(ch, reasonOversized, fmt.Errorf("%d bytes", len(payload)))
		return
	}
	kind, nsp, rest, ok := a.parseChannel(ch)
	if !ok {
		a.bad(ch, reasonChannel, errors.New("unexpected channel"))
		return
	}
	n := a.namespace(nsp)
	if n == nil {
		a.bad(ch, reasonNamespace, fmt.Errorf("unknown namespace %q", nsp))
		return
	}
	// The payload is only read, never kept past the handlers that copy
	// what they keep (attachments are copied), so alias the string.
	n.handle(kind, ch, rest, unsafe.Slice(unsafe.StringData(payload), len(payload)))
}

// bad counts a rejected message and logs it once per channel and reason.
func (a *Adapter) bad(ch string, reason badReason, err error) {
	a.stats.malformed[reason].Add(1)
	k := ch + "\x00" + reason.String()
	a.badMu.Lock()
	_, seen := a.badLogged[k]
	if !seen && len(a.badLogged) < 4096 {
		a.badLogged[k] = struct{}{}
	}
	a.badMu.Unlock()
	if !seen {
		a.log.Warn("redis adapter: ignoring message", "channel", ch, "reason", reason.String(), "err", err)
	}
}

// sleep waits d or until the adapter closes; it reports whether it may go on.
func (a *Adapter) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.ctx.Done():
		return false
	}
}

const uidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// randomUID returns n characters of uid2's alphabet.
func randomUID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = uidAlphabet[b[i]&63]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ackContext bounds how long this node forwards client acks of a remote
// broadcast with acks: the requester's timeout if it sent one, else
// RequestsTimeout; Close ends it too.
func (a *Adapter) ackContext(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = a.cfg.RequestsTimeout
	}
	return context.WithTimeout(a.ctx, d)
}

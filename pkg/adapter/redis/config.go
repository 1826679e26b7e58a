package redis

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SubscriptionMode selects the room channels a sharded adapter subscribes
// to (wire format §2).
type SubscriptionMode string

// Subscription modes of the sharded adapter.
const (
	// Dynamic subscribes to the channel of each room that has local members,
	// except socket ID rooms (names of 20 characters are treated as IDs by
	// publishers). The default.
	Dynamic SubscriptionMode = "dynamic"
	// DynamicPrivate is Dynamic including socket ID rooms.
	DynamicPrivate SubscriptionMode = "dynamic-private"
	// Static uses the main and private channels only.
	Static SubscriptionMode = "static"
)

// Config configures an Adapter. The zero value of each field means the
// default in its comment; Client or URL must be set.
type Config struct {
	// Client is the Redis client used to publish and subscribe. It is not
	// closed by Close. Nil means: build one from URL.
	Client goredis.UniversalClient
	// URL builds the client when Client is nil (see NewClient): redis:// or
	// rediss://, user:password in the URL, ?cluster=true for Redis Cluster.
	// The adapter closes a client it built.
	URL string

	// Key is the channel prefix shared by the cluster. Default "socket.io",
	// as in Node.
	Key string
	// Sharded selects the format of Node's createShardedAdapter (SPUBLISH /
	// SSUBSCRIBE, Redis ≥ 7) instead of the classic createAdapter one.
	Sharded bool
	// Streams selects the format of Node's @socket.io/redis-streams-adapter
	// 0.3.x: broadcasts and remote join/leave/disconnect go through a Redis
	// stream (XADD, read with XREAD), which keeps the history that
	// connection state recovery needs; requests and responses go over
	// pub/sub (SPUBLISH/SSUBSCRIBE when Sharded is set too, as Node's
	// useShardedPubSub).
	Streams bool
	// StreamName is the stream, or the prefix of the streams when
	// StreamCount > 1 (Node's streamName). Default "socket.io".
	StreamName string
	// StreamCount spreads the namespaces over that many streams
	// ("<StreamName>-<i>", i from Node's hash of the namespace name).
	// Default 1.
	StreamCount int
	// StreamMaxLen trims the stream with MAXLEN ~ on every XADD (Node's
	// maxLen). Default 10,000.
	StreamMaxLen int64
	// StreamReadCount is the COUNT of each XREAD. Default 100.
	StreamReadCount int64
	// StreamBlock is the BLOCK of each XREAD. Default 2s.
	StreamBlock time.Duration
	// SessionKeyPrefix prefixes the Redis keys of recovery sessions
	// (Node's sessionKeyPrefix). Default "sio:session:".
	SessionKeyPrefix string
	// SubscriptionMode applies to sharded mode. Default Dynamic.
	SubscriptionMode SubscriptionMode
	// RequestsTimeout bounds cluster requests (fetchSockets, allRooms,
	// serverSideEmitWithAck) when the caller's ctx has no earlier deadline.
	// Default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel makes this node reply to classic
	// requests on the requester's own response channel instead of the shared
	// one (Node's option of the same name). Default false.
	PublishOnSpecificResponseChannel bool
	// PublishQueueSize bounds the messages waiting to be published. When the
	// queue is full (Redis slow or down) new messages are dropped and counted.
	// Default 8192.
	PublishQueueSize int
	// PublishQueueBytes bounds the payload bytes waiting to be published, so
	// that large messages cannot pile up gigabytes while Redis is slow or
	// down; beyond it new messages are dropped and counted like a full queue.
	// A single message larger than the budget still goes out when the queue
	// is empty. Default 64 MiB.
	PublishQueueBytes int
	// MaxMessageSize is the largest message accepted from Redis; larger ones
	// are dropped and counted. Default 10 MiB.
	MaxMessageSize int
	// Logger receives warnings (malformed input once per channel and reason,
	// outages once each). Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultKey               = "socket.io"
	DefaultRequestsTimeout   = 5 * time.Second
	DefaultPublishQueueSize  = 8192
	DefaultPublishQueueBytes = 64 << 20
	DefaultMaxMessageSize    = 10 << 20
	DefaultStreamMaxLen      = 10000
	DefaultStreamReadCount   = 100
	DefaultStreamBlock       = 2 * time.Second
	DefaultSessionKeyPrefix  = "sio:session:"
)

func (c Config) withDefaults() (Config, error) {
	if c.Key == "" {
		c.Key = DefaultKey
	}
	switch c.SubscriptionMode {
	case "":
		c.SubscriptionMode = Dynamic
	case Dynamic, DynamicPrivate, Static:
	default:
		return c, fmt.Errorf("redis: unknown subscription mode %q", c.SubscriptionMode)
	}
	if c.RequestsTimeout <= 0 {
		c.RequestsTimeout = DefaultRequestsTimeout
	}
	if c.PublishQueueSize <= 0 {
		c.PublishQueueSize = DefaultPublishQueueSize
	}
	if c.PublishQueueBytes <= 0 {
		c.PublishQueueBytes = DefaultPublishQueueBytes
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StreamName == "" {
		c.StreamName = DefaultKey
	}
	if c.StreamCount <= 0 {
		c.StreamCount = 1
	}
	if c.StreamMaxLen <= 0 {
		c.StreamMaxLen = DefaultStreamMaxLen
	}
	if c.StreamReadCount <= 0 {
		c.StreamReadCount = DefaultStreamReadCount
	}
	if c.StreamBlock <= 0 {
		c.StreamBlock = DefaultStreamBlock
	}
	if c.SessionKeyPrefix == "" {
		c.SessionKeyPrefix = DefaultSessionKeyPrefix
	}
	if c.Client == nil && c.URL == "" {
		return c, errors.New("redis: Config needs a Client or a URL")
	}
	return c, nil
}

// NewClient builds a go-redis client from a URL, as the gateway's
// -redis-url flag gives it:
//
//	redis://[user:password@]host:port[/db][?options]   one server
//	rediss://...                                        TLS
//	redis://host:port?cluster=true[&addr=host2:port]    Redis Cluster
//
// Other query options are go-redis's (dial_timeout, read_timeout, ...).
func NewClient(rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: bad URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("redis: URL scheme must be redis or rediss, not %q", u.Scheme)
	}
	q := u.Query()
	cluster := false
	if v := q.Get("cluster"); v != "" {
		cluster = v == "true" || v == "1" || strings.EqualFold(v, "yes")
		q.Del("cluster")
		u.RawQuery = q.Encode()
	}
	if cluster {
		opts, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis: bad cluster URL: %w", err)
		}
		return goredis.NewClusterClient(opts), nil
	}
	opts, err := goredis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("redis: bad URL: %w", err)
	}
	return goredis.NewClient(opts), nil
}

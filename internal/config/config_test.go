package config

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("gateway", nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr:            ":3000",
		RedisKey:        "socket.io",
		PingInterval:    25 * time.Second,
		PingTimeout:     20 * time.Second,
		MaxPayload:      1_000_000,
		LogLevel:        slog.LevelInfo,
		LogFormat:       "text",
		ShutdownTimeout: 20 * time.Second,
		Sticky:          true,
		RedisAdapter:    "classic",
		RedisStreamMax:  10000,
		RecoverySkipMW:  true,
		RecoveryPersist: "close",

		MaxRooms:          100,
		MaxAcks:           1000,
		ConnectTimeout:    45 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16384,
		WriteQueueBytes:   4 << 20,
		ProxyTimeout:      5 * time.Second,
		ProxyConcurrency:  256,
		ClientJoin:        "any",
		ClientBroadcast:   true,
		Path:              "/socket.io/",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   func(string) string
		check func(t *testing.T, c Config)
	}{
		{"env sets", nil, env("SOCKGATE_ADDR", ":4000", "SOCKGATE_REDIS_URL", "redis://127.0.0.1:6379", "SOCKGATE_REDIS_SHARDED", "true"),
			func(t *testing.T, c Config) {
				if c.Addr != ":4000" || c.RedisURL != "redis://127.0.0.1:6379" || !c.RedisSharded || c.RedisAdapter != "sharded" {
					t.Errorf("%+v", c)
				}
			}},
		{"legacy clients and path", []string{"-path", "/rt"}, env("SOCKGATE_ALLOW_EIO3", "true"),
			func(t *testing.T, c Config) {
				if !c.AllowEIO3 || c.Path != "/rt/" {
					t.Errorf("AllowEIO3 %v, Path %q", c.AllowEIO3, c.Path)
				}
			}},
		{"path from env", nil, env("SOCKGATE_PATH", "/a/b/"),
			func(t *testing.T, c Config) {
				if c.Path != "/a/b/" {
					t.Errorf("Path = %q", c.Path)
				}
			}},
		{"flag wins over env", []string{"-addr", ":5000"}, env("SOCKGATE_ADDR", ":4000"),
			func(t *testing.T, c Config) {
				if c.Addr != ":5000" {
					t.Errorf("Addr = %q", c.Addr)
				}
			}},
		{"durations and sizes", []string{"-ping-interval=300ms", "-max-payload=1000"}, env("SOCKGATE_PING_TIMEOUT", "200ms", "SOCKGATE_SHUTDOWN_TIMEOUT", "3s"),
			func(t *testing.T, c Config) {
				if c.PingInterval != 300*time.Millisecond || c.PingTimeout != 200*time.Millisecond || c.MaxPayload != 1000 || c.ShutdownTimeout != 3*time.Second {
					t.Errorf("%+v", c)
				}
			}},
		{"cors list", []string{"-cors-origins", " https://a.example , https://b.example,"}, env(),
			func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.CORSOrigins, []string{"https://a.example", "https://b.example"}) {
					t.Errorf("CORSOrigins = %q", c.CORSOrigins)
				}
			}},
		{"backend", []string{"-client-broadcast=false", "-connect-url", "http://127.0.0.1:9/connect"},
			env("SOCKGATE_API_TOKEN", "t0k", "SOCKGATE_CLIENT_JOIN", "user:,chat:", "SOCKGATE_PROXY_TIMEOUT", "2s", "SOCKGATE_JWT_SECRET", "s"),
			func(t *testing.T, c Config) {
				if c.ClientBroadcast || c.ConnectURL != "http://127.0.0.1:9/connect" || c.APIToken != "t0k" ||
					c.ClientJoin != "user:,chat:" || c.ProxyTimeout != 2*time.Second || c.JWTSecret != "s" {
					t.Errorf("%+v", c)
				}
			}},
		{"logging", nil, env("SOCKGATE_LOG_LEVEL", "DEBUG", "SOCKGATE_LOG_FORMAT", "json"),
			func(t *testing.T, c Config) {
				if c.LogLevel != slog.LevelDebug || c.LogFormat != "json" {
					t.Errorf("%+v", c)
				}
			}},
		{"forwarding, secret from env, address from -addr", []string{"-sticky=false", "-redis-url=redis://x:6379", "-addr=10.1.2.3:3000"}, env("SOCKGATE_CLUSTER_SECRET", "0123456789abcdef"),
			func(t *testing.T, c Config) {
				if c.Sticky || c.ClusterSecret != "0123456789abcdef" || c.AdvertiseAddr != "" {
					t.Errorf("%+v", c)
				}
			}},
		{"forwarding, advertise address", nil, env("SOCKGATE_STICKY", "false", "SOCKGATE_REDIS_URL", "redis://x:6379", "SOCKGATE_CLUSTER_SECRET", "0123456789abcdef", "SOCKGATE_ADVERTISE_ADDR", "gw-0.gw:3000"),
			func(t *testing.T, c Config) {
				if c.Sticky || c.AdvertiseAddr != "gw-0.gw:3000" {
					t.Errorf("%+v", c)
				}
			}},
		{"recovery on streams", []string{"-redis-url=redis://x:6379", "-redis-adapter=streams", "-recovery=2m", "-recovery-persist=eager", "-recovery-skip-middlewares=false"},
			env("SOCKGATE_REDIS_STREAM_MAXLEN", "500"),
			func(t *testing.T, c Config) {
				if c.RedisAdapter != "streams" || c.Recovery != 2*time.Minute || c.RecoveryPersist != "eager" || c.RecoverySkipMW || c.RedisStreamMax != 500 {
					t.Errorf("%+v", c)
				}
			}},
		{"recovery on one node", nil, env("SOCKGATE_RECOVERY", "30s"),
			func(t *testing.T, c Config) {
				if c.Recovery != 30*time.Second {
					t.Errorf("Recovery = %v", c.Recovery)
				}
			}},
		{"limits", []string{"-max-connections=100", "-handshake-rate=2.5", "-event-rate=50", "-max-rooms=7", "-read-header-timeout=1s",
			"-allowed-origins", "https://a.example, https://b.example"},
			env("SOCKGATE_EVENT_BURST", "80", "SOCKGATE_MAX_ACKS", "3", "SOCKGATE_MAX_NAMESPACES", "2", "SOCKGATE_CONNECT_TIMEOUT", "10s",
				"SOCKGATE_IDLE_TIMEOUT", "30s", "SOCKGATE_MAX_HEADER_BYTES", "8192"),
			func(t *testing.T, c Config) {
				if c.MaxConnections != 100 || c.HandshakeRate != 2.5 || c.EventRate != 50 || c.EventBurst != 80 || c.MaxRooms != 7 ||
					c.MaxAcks != 3 || c.MaxNamespaces != 2 || c.ConnectTimeout != 10*time.Second || c.ReadHeaderTimeout != time.Second ||
					c.IdleTimeout != 30*time.Second || c.MaxHeaderBytes != 8192 ||
					!reflect.DeepEqual(c.AllowedOrigins, []string{"https://a.example", "https://b.example"}) {
					t.Errorf("%+v", c)
				}
			}},
		{"redis key", []string{"-redis-url=redis://x:6379", "-redis-key=app1"}, env(),
			func(t *testing.T, c Config) {
				if c.RedisKey != "app1" {
					t.Errorf("RedisKey = %q", c.RedisKey)
				}
			}},
		{"bare cookie is io", []string{"-cookie"}, env(),
			func(t *testing.T, c Config) {
				if c.Cookie != "io" {
					t.Errorf("Cookie = %q", c.Cookie)
				}
			}},
		{"named cookie", []string{"-cookie=sticky"}, env(),
			func(t *testing.T, c Config) {
				if c.Cookie != "sticky" {
					t.Errorf("Cookie = %q", c.Cookie)
				}
			}},
		{"cookie env", nil, env("SOCKGATE_COOKIE", "true"),
			func(t *testing.T, c Config) {
				if c.Cookie != "io" {
					t.Errorf("Cookie = %q", c.Cookie)
				}
			}},
		{"cookie off", []string{"-cookie=false"}, env("SOCKGATE_COOKIE", "io"),
			func(t *testing.T, c Config) {
				if c.Cookie != "" {
					t.Errorf("Cookie = %q", c.Cookie)
				}
			}},
		{"drain and readiness", []string{"-drain-delay=5s", "-redis-url=redis://x:6379"},
			env("SOCKGATE_READY_REQUIRES_REDIS", "true", "SOCKGATE_CORS_ORIGINS", "*", "SOCKGATE_CORS_CREDENTIALS", "1"),
			func(t *testing.T, c Config) {
				if c.DrainDelay != 5*time.Second || !c.ReadyRequiresRedis || !c.CORSCredentials {
					t.Errorf("%+v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("gateway", tt.args, tt.env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"bad env duration", nil, env("SOCKGATE_PING_INTERVAL", "soon"), "SOCKGATE_PING_INTERVAL"},
		{"bad env bool", nil, env("SOCKGATE_REDIS_SHARDED", "maybe"), "SOCKGATE_REDIS_SHARDED"},
		{"bad level", []string{"-log-level=loud"}, env(), "log-level"},
		{"bad format", []string{"-log-format=xml"}, env(), "log-format"},
		{"bad proxy concurrency", []string{"-proxy-concurrency=0"}, env(), "proxy-concurrency"},
		{"empty client join", []string{"-client-join="}, env(), "client-join"},
		{"zero payload", []string{"-max-payload=0"}, env(), "max-payload"},
		{"relative path", []string{"-path=socket.io"}, env(), "-path"},
		{"root path", []string{"-path=/"}, env(), "-path"},
		{"path with a query", []string{"-path=/x?y"}, env(), "-path"},
		{"negative timeout", []string{"-ping-timeout=-1s"}, env(), "ping-timeout"},
		{"sharded without url", []string{"-redis-sharded"}, env(), "redis-sharded"},
		{"forwarding without redis", []string{"-sticky=false", "-cluster-secret=0123456789abcdef", "-addr=127.0.0.1:3000"}, env(), "needs -redis-url"},
		{"forwarding without secret", []string{"-sticky=false", "-redis-url=redis://x", "-addr=127.0.0.1:3000"}, env(), "cluster-secret"},
		{"forwarding, short secret", []string{"-sticky=false", "-redis-url=redis://x", "-addr=127.0.0.1:3000", "-cluster-secret=short"}, env(), "at least 16"},
		{"forwarding, wildcard listener", []string{"-sticky=false", "-redis-url=redis://x", "-cluster-secret=0123456789abcdef"}, env(), "-advertise-addr"},
		{"forwarding, 0.0.0.0 listener", []string{"-sticky=false", "-redis-url=redis://x", "-cluster-secret=0123456789abcdef", "-addr=0.0.0.0:3000"}, env(), "-advertise-addr"},
		{"wildcard advertise address", []string{"-advertise-addr=[::]:3000"}, env(), "advertise-addr"},
		{"advertise address without port", []string{"-advertise-addr=10.0.0.1"}, env(), "advertise-addr"},
		{"negative connection limit", []string{"-max-connections=-1"}, env(), "max-connections"},
		{"negative event rate", nil, env("SOCKGATE_EVENT_RATE", "-3"), "event-rate"},
		{"zero rooms", []string{"-max-rooms=0"}, env(), "max-rooms"},
		{"zero header timeout", []string{"-read-header-timeout=0s"}, env(), "read-header-timeout"},
		{"unknown flag", []string{"-nope"}, env(), "nope"},
		{"recovery on classic", []string{"-redis-url=redis://x:6379", "-recovery=1m"}, env(), "-recovery needs -redis-adapter streams"},
		{"recovery on sharded", []string{"-redis-url=redis://x:6379", "-redis-sharded", "-recovery=1m"}, env(), "the sharded adapter keeps no history"},
		{"sharded alias conflict", []string{"-redis-url=redis://x:6379", "-redis-sharded", "-redis-adapter=streams"}, env(), "conflicts"},
		{"bad adapter", []string{"-redis-url=redis://x:6379", "-redis-adapter=kafka"}, env(), "redis-adapter"},
		{"bad persist", []string{"-recovery=1m", "-recovery-persist=never"}, env(), "recovery-persist"},
		{"negative recovery", []string{"-recovery=-1s"}, env(), "-recovery"},
		{"zero maxlen", []string{"-redis-stream-maxlen=0"}, env(), "redis-stream-maxlen"},
		{"bad cookie name", []string{"-cookie=a b"}, env(), "cookie"},
		{"negative drain delay", []string{"-drain-delay=-1s"}, env(), "drain-delay"},
		{"credentials without origins", []string{"-cors-credentials"}, env(), "cors-credentials"},
		{"readiness without redis", []string{"-ready-requires-redis"}, env(), "ready-requires-redis"},
		{"stray argument", []string{"serve"}, env(), "serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("gateway", tt.args, tt.env, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out strings.Builder
	_, err := Parse("gateway", []string{"-h"}, env(), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-addr", "SOCKGATE_ADDR", "-redis-url", "SOCKGATE_REDIS_URL", "-redis-key", "-redis-sharded",
		"-cors-origins", "-ping-interval", "-ping-timeout", "-max-payload", "-log-level", "-log-format", "-shutdown-timeout",
		"SOCKGATE_SHUTDOWN_TIMEOUT", "-drain-delay", "SOCKGATE_DRAIN_DELAY", "-ready-requires-redis", "SOCKGATE_READY_REQUIRES_REDIS",
		"-cookie", "SOCKGATE_COOKIE", "-cors-credentials", "SOCKGATE_CORS_CREDENTIALS", "-debug-addr", "SOCKGATE_DEBUG_ADDR", "(default :3000)", "(default socket.io)",
		"-allowed-origins", "-max-connections", "SOCKGATE_MAX_CONNECTIONS", "-handshake-rate", "-event-rate", "-event-burst",
		"-max-rooms", "-max-acks", "-max-namespaces", "-connect-timeout", "-read-header-timeout", "(default 5s)",
		"-idle-timeout", "-max-header-bytes", "-write-queue-bytes", "-tcp-send-buffer",
		"-sticky", "SOCKGATE_STICKY", "(default true)", "-cluster-secret", "SOCKGATE_CLUSTER_SECRET", "-advertise-addr", "SOCKGATE_ADVERTISE_ADDR",
		"-redis-adapter", "-redis-stream-maxlen", "-recovery", "SOCKGATE_RECOVERY", "-recovery-skip-middlewares", "-recovery-persist",
		"-allow-eio3", "SOCKGATE_ALLOW_EIO3", "-path", "SOCKGATE_PATH", "(default /socket.io/)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "SOCKGATE_VERSION") {
		t.Error("usage offers an environment variable for -version")
	}
}

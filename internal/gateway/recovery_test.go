package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/pkg/session"
)

func TestRecoveryNeedsStreams(t *testing.T) {
	for _, format := range []string{"", "classic", "sharded"} {
		_, err := New(Config{RedisURL: "redis://127.0.0.1:1", RedisAdapter: format,
			Recovery: session.RecoveryConfig{MaxDisconnection: time.Minute}})
		if err == nil || !strings.Contains(err.Error(), "needs the streams Redis adapter") {
			t.Errorf("format %q: err = %v", format, err)
		}
	}
	g, err := New(Config{Recovery: session.RecoveryConfig{MaxDisconnection: time.Minute}})
	if err != nil {
		t.Fatalf("recovery on one node: %v", err)
	}
	if !g.Server().RecoveryStats().Enabled {
		t.Error("recovery not enabled")
	}
	g.Shutdown(t.Context())
}

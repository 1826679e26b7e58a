package redis

import (
	"testing"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/adapter/adaptertest"
)

func TestConformance(t *testing.T) {
	needRedis(t)
	modes := []struct {
		name  string
		tweak func(*Config)
	}{
		{"classic", nil},
		{"classic-specific-response", func(c *Config) { c.PublishOnSpecificResponseChannel = true }},
		{"sharded", func(c *Config) { c.Sharded = true }},
		{"sharded-static", func(c *Config) { c.Sharded, c.SubscriptionMode = true, Static }},
		{"streams", func(c *Config) { c.Streams = true }},
		{"streams-sharded-pubsub", func(c *Config) { c.Streams, c.Sharded = true, true }},
		{"streams-3", func(c *Config) { c.Streams, c.StreamCount = true, 3 }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			adaptertest.Run(t, func(t *testing.T, nodes int) []adapter.Adapter {
				return asAdapters(newTestAdapters(t, nodes, m.tweak))
			})
		})
	}
}

//go:build !redisadapter

package gateway

import (
	"errors"

	"github.com/sockgate/sockgate/pkg/adapter"
)

func newRedisAdapter(cfg Config) (adapter.Adapter, error) {
	// TEMPORARY until pkg/adapter/redis lands: then adapter_redis.go loses its
	// build tag and this file goes.
	return nil, errors.New("this build has no Redis adapter yet")
}

func (g *Gateway) registerAdapterMetrics() {}

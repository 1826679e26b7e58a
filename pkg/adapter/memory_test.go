package adapter_test

import (
	"testing"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/adapter/adaptertest"
)

func TestMemoryConformance(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T, nodes int) []adapter.Adapter {
		if nodes != 1 {
			return nil // a memory adapter is a cluster of one
		}
		a := adapter.NewMemory()
		t.Cleanup(func() { a.Close() })
		return []adapter.Adapter{a}
	})
}

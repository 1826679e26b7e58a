package api_test

import (
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/leakcheck"
)

// TestMain fails the run if goroutines of this module outlive the tests.
func TestMain(m *testing.M) {
	leakcheck.Exit(m.Run(), leakcheck.Options{
		Match:  []string{"sockgate/pkg/"},
		Ignore: []string{"testing.(*M).Run"},
		Wait:   3 * time.Second,
	})
}

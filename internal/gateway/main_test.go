package gateway

import (
	"testing"

	"github.com/sockgate/sockgate/internal/leakcheck"
)

// TestMain fails the run when goroutines of the project outlive the tests
// (every gateway is shut down by its test).
func TestMain(m *testing.M) {
	leakcheck.Exit(m.Run(), leakcheck.Options{Match: []string{"github.com/sockgate/sockgate/"}})
}

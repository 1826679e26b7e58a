package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when goroutines outlive the tests (every gateway
// is shut down by its test).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

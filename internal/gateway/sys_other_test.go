//go:build !unix && !windows

package gateway

import (
	"errors"
	"os"
)

// setReceiveBuffer is not implemented here: the stalled members of
// TestSlowConsumers keep the system's receive buffer and fill up later.
func setReceiveBuffer(uintptr, int) error { return errors.ErrUnsupported }

// canFreeze reports whether freeze works here: there is no SIGSTOP.
const canFreeze = false

func freeze(*os.Process) error { return errors.ErrUnsupported }

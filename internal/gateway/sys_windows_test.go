package gateway

import (
	"errors"
	"os"
	"syscall"
)

// setReceiveBuffer sets SO_RCVBUF of the socket fd.
func setReceiveBuffer(fd uintptr, bytes int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
}

// canFreeze reports whether freeze works here: Windows has no SIGSTOP.
const canFreeze = false

func freeze(*os.Process) error { return errors.ErrUnsupported }

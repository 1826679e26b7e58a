//go:build unix

package gateway

import (
	"os"
	"syscall"
)

// setReceiveBuffer sets SO_RCVBUF of the socket fd.
func setReceiveBuffer(fd uintptr, bytes int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
}

// canFreeze reports whether freeze works here.
const canFreeze = true

// freeze stops p without ending it (SIGSTOP): it holds its sockets and
// answers nothing.
func freeze(p *os.Process) error { return p.Signal(syscall.SIGSTOP) }

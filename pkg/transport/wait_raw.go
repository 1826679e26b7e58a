//go:build linux && !sockgate_portable

package transport

import (
	"net"
	"syscall"
)

// writeNonblock writes p to the socket fd once, without waiting: it returns
// how much the socket took (0 when it would block).
func writeNonblock(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), p)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, err
		}
	}
}

// readNonblock reads from the socket fd once, without waiting. wait reports
// that there was nothing to read; n is 0 also at EOF and on errors, which
// the next blocking read will see again.
func readNonblock(fd uintptr, p []byte) (n int, wait bool) {
	for {
		n, err := syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, true
		case err != nil || n < 0:
			return 0, false
		}
		return n, false
	}
}

// rawConnOf returns the file descriptor access of nc: a reader waits for
// bytes in the runtime's poller without a buffer, and senders write
// without blocking. Nil without a descriptor (TLS).
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

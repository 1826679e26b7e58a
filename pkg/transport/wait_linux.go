package transport

import (
	"syscall"
	"unsafe"
)

// wouldBlock reports whether reading the socket fd would block: it peeks
// one byte without waiting. Data, EOF and errors all mean "go and read".
func wouldBlock(fd uintptr) bool {
	var b byte
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b)), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno == syscall.EAGAIN
}

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

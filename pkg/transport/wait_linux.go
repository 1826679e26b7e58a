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

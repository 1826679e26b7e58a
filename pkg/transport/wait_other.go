//go:build !linux

package transport

// wouldBlock is only implemented on Linux; elsewhere the reader waits inside
// the websocket library.
func wouldBlock(uintptr) bool { return false }

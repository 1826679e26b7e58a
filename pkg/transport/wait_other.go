//go:build !linux

package transport

// wouldBlock is only implemented on Linux; elsewhere the reader waits inside
// the websocket library.
func wouldBlock(uintptr) bool { return false }

// writeNonblock is only implemented on Linux; elsewhere the writer goroutine
// writes everything.
func writeNonblock(uintptr, []byte) (int, error) { return 0, nil }

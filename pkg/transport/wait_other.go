//go:build !linux || sockgate_portable

package transport

// writeNonblock is only implemented on Linux; elsewhere the writer goroutine
// writes everything.
func writeNonblock(uintptr, []byte) (int, error) { return 0, nil }

// readNonblock is only implemented on Linux; elsewhere the reader waits
// inside the websocket library.
func readNonblock(uintptr, []byte) (int, bool) { return 0, false }

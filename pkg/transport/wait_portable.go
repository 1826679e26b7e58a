//go:build !linux || sockgate_portable

package transport

import (
	"net"
	"syscall"
)

// rawConnOf returns nil in the portable build: readers wait in blocking
// reads and every write goes through a writer goroutine, with the standard
// library's net.Conn only.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// writeNonblock and readNonblock are never called without a raw connection.
func writeNonblock(uintptr, []byte) (int, error) { return 0, nil }
func readNonblock(uintptr, []byte) (int, bool)   { return 0, false }

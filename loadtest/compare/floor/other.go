//go:build !linux

// Command floor runs on Linux only: it is built on epoll.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "floor: Linux only (epoll)")
	os.Exit(1)
}

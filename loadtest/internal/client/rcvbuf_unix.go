//go:build unix

package client

import (
	"net"
	"net/http"
	"syscall"
	"time"
)

// SmallReceiveBuffer returns an HTTP client whose connections have a kernel
// receive buffer of about bytes (SO_RCVBUF, set before connecting so that
// the TCP window stays small): a client that stops reading then fills up
// after little data, as a stalled mobile client does.
func SmallReceiveBuffer(bytes int) *http.Client {
	d := &net.Dialer{
		Timeout: 30 * time.Second,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, bytes)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

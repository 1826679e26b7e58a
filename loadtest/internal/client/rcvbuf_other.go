//go:build !unix

package client

import "net/http"

// SmallReceiveBuffer returns an HTTP client for stalled members. Outside
// Unix the receive buffer is left at the system's size, so a stalled
// client takes longer to fill up.
func SmallReceiveBuffer(bytes int) *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

//go:build !linux || sockgate_portable

package transport

// poller is only implemented on Linux; elsewhere an idle websocket keeps a
// goroutine waiting in the runtime's network poller.
type poller struct{}

func (p *poller) park(*Server, *Conn, *wsConn) bool { return false }
func (p *poller) forget(*wsConn)                    {}
func (p *poller) stop()                             {}

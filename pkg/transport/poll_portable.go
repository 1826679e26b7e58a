//go:build !linux || sockgate_portable

package transport

// poller parks idle websockets only on Linux (poll_epoll.go); in the
// portable build an idle websocket keeps a reader goroutine waiting in a
// blocking read (its stack and a small read buffer).
type poller struct{}

type pollState struct{}

func (p *poller) park(*Server, *Conn, *wsConn) bool { return false }
func (p *poller) forget(*wsConn)                    {}
func (p *poller) stop()                             {}

package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// sendBufferListener sets the kernel send buffer of every accepted TCP
// connection (Config.TCPSendBuffer).
type sendBufferListener struct {
	net.Listener
	bytes int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.bytes) // best effort: the kernel default otherwise
	}
	return c, err
}

// unservedConns counts the HTTP connections that close before any complete
// request reached a handler: clients too slow with their headers
// (ReadHeaderTimeout), headers over MaxHeaderBytes (431), and clients that
// connect and hang up. Serve wires it into the http.Server.
type unservedConns struct {
	mu    sync.Mutex
	conns map[net.Conn]*atomic.Bool // served: a request reached the handler
	count atomic.Uint64
}

type servedKey struct{}

func (u *unservedConns) connContext(ctx context.Context, c net.Conn) context.Context {
	served := new(atomic.Bool)
	u.mu.Lock()
	if u.conns == nil {
		u.conns = make(map[net.Conn]*atomic.Bool)
	}
	u.conns[c] = served
	u.mu.Unlock()
	return context.WithValue(ctx, servedKey{}, served)
}

func (u *unservedConns) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	u.mu.Lock()
	served, ok := u.conns[c]
	delete(u.conns, c)
	u.mu.Unlock()
	if ok && st == http.StateClosed && !served.Load() {
		u.count.Add(1)
	}
}

// wrap marks the connection of every request that reaches h as served.
func (u *unservedConns) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served, ok := r.Context().Value(servedKey{}).(*atomic.Bool); ok && !served.Load() {
			served.Store(true)
		}
		h.ServeHTTP(w, r)
	})
}

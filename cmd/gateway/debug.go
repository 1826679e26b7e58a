package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
)

// debugServer serves Go's profiles (/debug/pprof/) on a listener of its own,
// apart from the public address, for -debug-addr.
type debugServer struct {
	ln   net.Listener
	srv  *http.Server
	done sync.WaitGroup
}

func startDebug(addr string) (*debugServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &debugServer{ln: ln, srv: &http.Server{Handler: mux}}
	d.done.Go(func() { _ = d.srv.Serve(ln) })
	return d, nil
}

// stop closes the listener and any profile being served, and waits.
func (d *debugServer) stop() {
	_ = d.srv.Close()
	d.done.Wait()
}

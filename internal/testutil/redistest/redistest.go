// Package redistest runs throwaway redis-server processes for the tests of
// this module: on a free loopback port, without persistence, each in a
// temporary directory of its own, killed by Stop.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrNotInstalled is returned by New when there is no redis-server on PATH.
var ErrNotInstalled = errors.New("redistest: redis-server not installed")

// Server is a redis-server on a fixed loopback port, which Start starts
// and Stop kills, as often as a test needs (a restart keeps the port).
// Its methods are not safe for concurrent use.
type Server struct {
	bin  string
	port int
	cmd  *exec.Cmd
	dir  string
}

// New returns a stopped server on a port that is free now.
func New() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return &Server{bin: bin, port: port}, nil
}

// Start is New and Server.Start for one test: it skips the test when
// redis-server is not installed, fails it when the server does not start,
// and stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if errors.Is(err, ErrNotInstalled) {
		t.Skip("redis-server not installed (make test installs it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Bin is the path of the redis-server binary.
func (s *Server) Bin() string { return s.bin }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Start runs redis-server and waits until it answers PING (5 s at most). A
// server that does not answer is stopped again.
func (s *Server) Start() error {
	if s.cmd != nil {
		return errors.New("redistest: already started")
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return err
	}
	s.dir = dir
	s.cmd = exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		os.RemoveAll(dir)
		return err
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redistest: redis-server on %s did not answer", s.Addr())
}

// Stop kills the server and waits for it to exit; a stopped server stays
// as it is.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	os.RemoveAll(s.dir)
}

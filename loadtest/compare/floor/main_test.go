//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockgate/sockgate/loadtest/internal/client"
)

// TestRoundWrites checks the floor's output rule: what a round gathers for
// a connection goes out in one write(2), in order.
func TestRoundWrites(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	s := &server{conns: map[int]*conn{}, members: map[int]*conn{}}
	if s.epfd, err = unix.EpollCreate1(0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s.epfd)
	c := &conn{fd: fds[0]}
	s.conns[c.fd] = c
	s.members[c.fd] = c
	s.deliver([]byte("42[1]"))
	s.write(c, []byte("end"))
	s.deliver([]byte("42[2]"))
	if s.stats.writes != 0 {
		t.Fatalf("%d writes before the round ended", s.stats.writes)
	}
	s.flushRound()
	if s.stats.writes != 1 || len(s.dirty) != 0 || c.dirty {
		t.Fatalf("%d writes for one round (dirty %d)", s.stats.writes, len(s.dirty))
	}
	buf := make([]byte, 64)
	n, err := unix.Read(fds[1], buf)
	want := "\x81\x0542[1]end\x81\x0542[2]"
	if err != nil || string(buf[:n]) != want {
		t.Fatalf("peer read %q, %v; want %q", buf[:n], err, want)
	}
	s.flushRound() // nothing gathered: nothing written
	if s.stats.writes != 1 {
		t.Fatalf("%d writes after an empty round", s.stats.writes)
	}
	s.close(c)
}

// TestLoadgenTraffic runs the floor with loadgen's client: join, message to
// the room (every member gets every message, in order), echo.
func TestLoadgenTraffic(t *testing.T) {
	s := &server{conns: map[int]*conn{}, members: map[int]*conn{}, readBuf: make([]byte, 256<<10), pingIval: time.Hour}
	s.openPkt = []byte(`{"upgrades":[],"pingInterval":3600000,"pingTimeout":20000,"maxPayload":1000000}`)
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(s.lfd)
	if err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("http://127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	go s.loop() // runs until the test binary exits

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const members, messages = 3, 200
	var mu sync.Mutex
	got := make([][]string, members)
	all := make(chan struct{})
	count := 0
	var cls []*client.Client
	for i := range members {
		c, err := client.Dial(ctx, node, client.Options{HTTPClient: http.DefaultClient, OnEvent: func(name string, args [][]byte) {
			mu.Lock()
			defer mu.Unlock()
			got[i] = append(got[i], name+":"+string(args[0]))
			if count++; count == members*messages {
				close(all)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cls = append(cls, c)
		if args, err := c.Call(ctx, "join", []byte(`"bench"`)); err != nil || len(args) != 1 || string(args[0]) != "true" {
			t.Fatalf("join: %q %v", args, err)
		}
	}
	for i := range messages { // sent back to back: rounds gather several
		if err := cls[0].Emit(ctx, "message", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("%d of %d deliveries", count, members*messages)
	}
	mu.Lock()
	for i, g := range got {
		for j, ev := range g {
			if want := fmt.Sprintf("message:%d", j); ev != want {
				t.Fatalf("member %d: delivery %d is %q, want %q", i, j, ev, want)
			}
		}
	}
	mu.Unlock()
	args, err := cls[1].Call(ctx, "echo", []byte(`7`), []byte(`"pad"`))
	if err != nil || len(args) != 2 || string(args[0]) != "7" || string(args[1]) != `"pad"` {
		t.Fatalf("echo: %q %v", args, err)
	}
}

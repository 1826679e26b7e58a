package client_test

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/client"
	"github.com/sockgate/sockgate/loadtest/internal/fakeserver"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClient(t *testing.T) {
	fs := &fakeserver.Server{PingInterval: 20 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer func() { srv.Close(); fs.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var counters client.Counters
	var got atomic.Value
	a, err := client.Dial(ctx, srv.URL, client.Options{Counters: &counters, OnEvent: func(name string, args [][]byte) {
		if name == "message" && len(args) == 1 {
			got.Store(string(args[0]))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Dial(ctx, srv.URL, client.Options{Counters: &counters})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("echo with ack keeps raw args", func(t *testing.T) {
		args, err := a.Call(ctx, "echo", []byte(`{"b":1,"a":9007199254740993}`), []byte(`"é"`))
		if err != nil {
			t.Fatal(err)
		}
		if len(args) != 2 || string(args[0]) != `{"b":1,"a":9007199254740993}` || string(args[1]) != `"é"` {
			t.Fatalf("echo returned %q", args)
		}
	})
	t.Run("join then message reaches the room", func(t *testing.T) {
		for _, c := range []*client.Client{a, b} {
			args, err := c.Call(ctx, "join", []byte(`"r"`))
			if err != nil || len(args) != 1 || string(args[0]) != "true" {
				t.Fatalf("join: %q %v", args, err)
			}
		}
		if err := b.Emit(ctx, "message", []byte(`"hi"`)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "message", func() bool { return got.Load() == `"hi"` })
	})
	t.Run("pings are answered", func(t *testing.T) {
		waitFor(t, "pongs", func() bool { return counters.PingsAnswered.Load() >= 4 })
	})
	t.Run("close fails pending acks and ends the client", func(t *testing.T) {
		a.Close()
		b.Abort()
		if _, err := a.Call(ctx, "echo"); err == nil {
			t.Fatal("call after close succeeded")
		}
		<-a.Done()
		<-b.Done()
		waitFor(t, "server to drop sockets", func() bool { return fs.Sockets() == 0 })
	})
}

func TestWebSocketURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:3000", "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"},
		{"ws://h:1/", "ws://h:1/socket.io/?EIO=4&transport=websocket"},
		{"https://h", "wss://h/socket.io/?EIO=4&transport=websocket"},
		{"127.0.0.1:3001", "ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := client.WebSocketURL(tt.in, "")
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := client.WebSocketURL("ftp://x", ""); err == nil {
		t.Fatal("ftp accepted")
	}
}

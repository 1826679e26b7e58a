package redis

import (
	"context"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestRoomWishesCoalesce: room (un)subscriptions waiting for the worker
// are bounded by the number of distinct rooms, and the latest wish wins.
func TestRoomWishesCoalesce(t *testing.T) {
	// No worker runs: this is Redis being too slow to take anything.
	s := &subscriptions{pending: make(map[string]bool), wake: make(chan struct{}, 1)}
	for i := 0; i < 10000; i++ {
		s.queue("k#/#loop#", true)
		s.queue("k#/#loop#", false)
		s.queue("k#/#stay#", i%2 == 0)
	}
	s.queue("k#/#loop#", true)
	want := map[string]bool{"k#/#loop#": true, "k#/#stay#": false}
	if len(s.pending) != len(want) {
		t.Fatalf("%d wishes pending, want %d", len(s.pending), len(want))
	}
	for ch, w := range want {
		if s.pending[ch] != w {
			t.Errorf("wish for %s = %v, want %v", ch, s.pending[ch], w)
		}
	}
	s.forget([]string{"k#/#loop#"})
	if _, ok := s.pending["k#/#loop#"]; ok {
		t.Error("forget kept the wish")
	}
}

// TestRoomJoinLeaveLoop: a join/leave loop ends with Redis subscribed to
// exactly the rooms that still have members.
func TestRoomJoinLeaveLoop(t *testing.T) {
	srv := needRedis(t)
	a := newTestAdapters(t, 1, func(c *Config) { c.Sharded = true })[0]
	n, err := a.Namespace(&countLocal{})
	if err != nil {
		t.Fatal(err)
	}
	sock := idSocket("s1")
	for i := 0; i < 2000; i++ {
		n.AddAll(sock, "loop", "gone")
		n.Del(sock, "loop")
		n.Del(sock, "gone")
	}
	n.AddAll(sock, "loop")
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer c.Close()
	prefix := a.cfg.Key + "#/#"
	want := []string{prefix, prefix + a.uid + "#", prefix + "loop#"}
	slices.Sort(want)
	var got []string
	waitUntil(t, 5*time.Second, "the subscriptions to settle", func() bool {
		got, _ = c.PubSubShardChannels(context.Background(), prefix+"*").Result()
		slices.Sort(got)
		return slices.Equal(got, want)
	})
}

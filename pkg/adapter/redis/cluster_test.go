package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sockgate/sockgate/pkg/adapter"
	"github.com/sockgate/sockgate/pkg/protocol/socketio"
)

// redisCluster is a throwaway 3-master Redis Cluster on loopback ports.
type redisCluster struct {
	addrs []string
	cmds  []*exec.Cmd
}

func (c *redisCluster) url() string {
	u := "redis://" + c.addrs[0] + "?cluster=true"
	for _, a := range c.addrs[1:] {
		u += "&addr=" + a
	}
	return u
}

func (c *redisCluster) stop() {
	for _, cmd := range c.cmds {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	c.cmds = nil
}

// clusterPort finds a free port whose cluster bus port (+10000) is free too.
func clusterPort() (int, error) {
	for i := 0; i < 50; i++ {
		p := 20000 + rand.IntN(30000)
		ok := true
		for _, q := range []int{p, p + 10000} {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port pair")
}

// startCluster starts three cluster-enabled redis-servers and joins them;
// it skips the test when that cannot be done.
func startCluster(t *testing.T) *redisCluster {
	t.Helper()
	srv := needRedis(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not available")
	}
	c := &redisCluster{}
	t.Cleanup(c.stop)
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		port, err := clusterPort()
		if err != nil {
			t.Skip(err)
		}
		cmd := exec.Command(srv.Bin(), "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("%s/nodes-%d.conf", dir, i),
			"--dir", dir, "--dbfilename", fmt.Sprintf("dump-%d.rdb", i),
			"--save", "", "--appendonly", "no", "--protected-mode", "no")
		if err := cmd.Start(); err != nil {
			t.Skip("starting a cluster node:", err)
		}
		c.cmds = append(c.cmds, cmd)
		c.addrs = append(c.addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	ctx := context.Background()
	for _, a := range c.addrs {
		cl := goredis.NewClient(&goredis.Options{Addr: a, MaxRetries: -1})
		up := false
		for i := 0; i < 100 && !up; i++ {
			if up = cl.Ping(ctx).Err() == nil; !up {
				time.Sleep(50 * time.Millisecond)
			}
		}
		cl.Close()
		if !up {
			t.Skip("cluster node did not start on", a)
		}
	}
	args := append(append([]string{"--cluster", "create"}, c.addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Skipf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range c.addrs {
		cl := goredis.NewClient(&goredis.Options{Addr: a})
		ok := false
		for i := 0; i < 200 && !ok; i++ {
			info, _ := cl.ClusterInfo(ctx).Result()
			if ok = strings.Contains(info, "cluster_state:ok"); !ok {
				time.Sleep(50 * time.Millisecond)
			}
		}
		cl.Close()
		if !ok {
			t.Skip("the cluster did not become ok")
		}
	}
	return c
}

// pubsubClients counts the subscriber connections on every node.
func (c *redisCluster) pubsubClients(t *testing.T) int {
	t.Helper()
	n := 0
	for _, a := range c.addrs {
		cl := goredis.NewClient(&goredis.Options{Addr: a})
		list, err := cl.ClientList(context.Background()).Result()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "flags=") && strings.Contains(f, "P") {
					n++
				}
			}
		}
	}
	return n
}

func (s *subscriptions) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// TestRedisCluster runs the adapter against a real 3-master Redis Cluster.
func TestRedisCluster(t *testing.T) {
	cluster := startCluster(t)
	newAdapters := func(t *testing.T, n int, sharded bool) []*Adapter {
		key := uniqueKey(t)
		out := make([]*Adapter, n)
		for i := range out {
			a, err := New(Config{URL: cluster.url(), Key: key, Sharded: sharded, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			out[i] = a
		}
		return out
	}
	ctx := context.Background()

	// ServerCount counts the nodes subscribed on any master, every time.
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("server count sharded=%v", sharded), func(t *testing.T) {
			as := newAdapters(t, 3, sharded)
			var nsps []adapter.Namespace
			for _, a := range as {
				n, err := a.Namespace(&countLocal{})
				if err != nil {
					t.Fatal(err)
				}
				nsps = append(nsps, n)
			}
			waitUntil(t, 5*time.Second, "every node subscribed", func() bool { c, _ := nsps[0].ServerCount(ctx); return c == len(as) })
			for i := 0; i < 20; i++ {
				for j, n := range nsps {
					if c, err := n.ServerCount(ctx); c != len(as) || err != nil {
						t.Fatalf("query %d of node %d: ServerCount = %d, %v; want %d", i, j, c, err, len(as))
					}
				}
			}
		})
	}

	// Sharded dynamic rooms: one connection per slot in use, closed when its
	// last room goes away.
	t.Run("sharded room connections are released", func(t *testing.T) {
		as := newAdapters(t, 2, true)
		locals := []*countLocal{{}, {}}
		var nsps []adapter.Namespace
		for i, a := range as {
			n, err := a.Namespace(locals[i])
			if err != nil {
				t.Fatal(err)
			}
			nsps = append(nsps, n)
		}
		// reach polls until a broadcast from node 1 to room reaches node 0.
		reach := func(room string) {
			t.Helper()
			ev := "to-" + room
			opts := adapter.Options{}
			if room != "" {
				opts.Rooms = []string{room}
			}
			waitUntil(t, 5*time.Second, "delivery of "+ev, func() bool {
				_ = nsps[1].Broadcast(ctx, &socketio.Packet{Type: socketio.Event, Data: []byte(`["` + ev + `"]`)}, opts)
				time.Sleep(10 * time.Millisecond)
				return locals[0].count(ev) > 0
			})
		}
		sock := idSocket("s1")
		nsps[0].AddAll(sock, string(sock))
		waitUntil(t, 5*time.Second, "two servers", func() bool { c, _ := nsps[0].ServerCount(ctx); return c == 2 })
		reach(string(sock))
		base := as[0].subs.connCount()
		baseClients := cluster.pubsubClients(t)

		const rooms = 40
		for i := 0; i < rooms; i++ {
			nsps[0].AddAll(sock, fmt.Sprintf("room-%d", i))
		}
		for i := 0; i < rooms; i++ {
			reach(fmt.Sprintf("room-%d", i))
		}
		if got := as[0].subs.connCount(); got <= base {
			t.Fatalf("%d connections with %d rooms, want more than %d", got, rooms, base)
		}
		t.Logf("connections: %d without rooms, %d with %d rooms", base, as[0].subs.connCount(), rooms)

		for i := 0; i < rooms; i++ {
			nsps[0].Del(sock, fmt.Sprintf("room-%d", i))
		}
		waitUntil(t, 5*time.Second, "room connections closed", func() bool { return as[0].subs.connCount() == base })
		waitUntil(t, 5*time.Second, "Redis to see them closed", func() bool { return cluster.pubsubClients(t) == baseClients })
		// The main and the socket's own channels still work.
		reach("")
		reach(string(sock))
	})
}

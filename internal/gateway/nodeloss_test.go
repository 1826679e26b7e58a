package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sockgate/sockgate/internal/testutil/redistest"
	"github.com/sockgate/sockgate/pkg/adapter"
)

// nodeEnv tells a re-executed test binary to be the third cluster node:
// TestNodeLossChild then serves a gateway on that Redis until it is killed.
const nodeEnv = "SOCKGATE_TEST_CHILD_NODE"

// TestNodeLossChild is not a test: it is the body of the node that
// TestNodeLoss runs as a separate process (so that it can SIGSTOP and
// SIGKILL it). It prints "addr HOST:PORT" and serves until killed.
func TestNodeLossChild(t *testing.T) {
	spec := os.Getenv(nodeEnv)
	if spec == "" {
		t.Skip("the child process of TestNodeLoss")
	}
	url, key, _ := strings.Cut(spec, " ")
	g, err := New(Config{RedisURL: url, RedisKey: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("addr %s\n", ln.Addr())
	_ = g.Serve(context.Background(), ln) // until SIGKILL
}

// TestNodeLoss: a 3-node cluster, the third node a separate process.
// Frozen (SIGSTOP), fetchSockets reports it missing after the request
// timeout; killed (SIGKILL), its clients reconnect to the other nodes
// through their node list, the cluster stops counting it, and the
// survivors' broadcasts to each other never stop.
func TestNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if !canFreeze {
		t.Skipf("freezes a node with SIGSTOP, which %s does not have", runtime.GOOS)
	}
	url := redistest.Start(t).URL()
	key := "sockgate-test-nodeloss"
	var survivors []*Gateway
	var addrs []string
	for range 2 {
		g, addr := serveGateway(t, Config{RedisURL: url, RedisKey: key})
		survivors = append(survivors, g)
		addrs = append(addrs, addr)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestNodeLossChild$")
	child.Env = append(os.Environ(), nodeEnv+"="+url+" "+key)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = child.Process.Kill()
		<-exited
	})
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "addr ") {
		t.Fatalf("child node: %q", lines.Text())
	}
	dead := strings.TrimPrefix(lines.Text(), "addr ")
	go func() {
		for lines.Scan() { // drain the child's output
		}
		_ = child.Wait()
		close(exited)
	}()

	// Two clients per node; each knows every node and, when its node goes,
	// reconnects to the next one.
	nodes := []string{addrs[0], addrs[1], dead}
	rec := &tickLog{}
	var clients []*listClient
	for i := range 6 {
		clients = append(clients, startListClient(t, i, nodes, i%3, rec))
	}
	main := survivors[0].Server().Sockets()
	waitFor(t, 10*time.Second, "the cluster to count 6 sockets", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := main.FetchSockets(ctx)
		return err == nil && len(s) == 6
	})

	// The survivors broadcast to everyone every 20 ms.
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	for i, g := range survivors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					_ = g.Server().Sockets().Emit("tick", i, seq)
				}
			}
		}()
	}
	defer halt()
	time.Sleep(200 * time.Millisecond)

	// Frozen: it cannot answer, and the request reports it missing.
	if err := freeze(child.Process); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	infos, err := main.FetchSockets(ctx)
	cancel()
	var te *adapter.TimeoutError
	if !errors.As(err, &te) || te.Expected != 2 || te.Received != 1 {
		t.Fatalf("fetchSockets with a frozen node: %v, want a timeout with 1 of 2 replies", err)
	}
	if len(infos) != 4 {
		t.Errorf("fetchSockets with a frozen node returned %d sockets, want the survivors' 4", len(infos))
	}

	// Killed: its clients move to the survivors, and requests stop waiting for it.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	waitFor(t, 10*time.Second, "the dead node's clients to reconnect elsewhere", func() bool {
		for _, c := range clients {
			if c.node() == dead {
				return false
			}
		}
		return true
	})
	t.Logf("clients of the dead node reconnected %v after the kill", time.Since(killed))
	waitFor(t, 10*time.Second, "fetchSockets to count the 6 sockets on 2 nodes", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := main.FetchSockets(ctx)
		return err == nil && len(s) == 6
	})
	time.Sleep(200 * time.Millisecond)

	// The survivors' own clients got every tick of both survivors, with no
	// long gap, before, during and after the loss.
	halt()
	for _, c := range clients {
		if c.moved() { // a client of the dead node
			continue
		}
		for from := range 2 {
			got, gaps, worst := rec.check(c.id, from)
			if got == 0 || gaps != 0 {
				t.Errorf("client %d: %d ticks from survivor %d, %d missing", c.id, got, from, gaps)
			}
			if worst > time.Second {
				t.Errorf("client %d: waited %v between ticks of survivor %d", c.id, worst, from)
			}
		}
	}
}

// tickLog records the ticks every client received.
type tickLog struct {
	mu    sync.Mutex
	ticks map[[2]int][]tickAt // (client, from) -> ticks in arrival order
}

type tickAt struct {
	seq int
	at  time.Time
}

func (l *tickLog) add(client, from, seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ticks == nil {
		l.ticks = make(map[[2]int][]tickAt)
	}
	k := [2]int{client, from}
	l.ticks[k] = append(l.ticks[k], tickAt{seq, time.Now()})
}

// check returns how many ticks client got from a survivor, how many are
// missing or repeated between its first and last, and the longest gap.
func (l *tickLog) check(client, from int) (got, gaps int, worst time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.ticks[[2]int{client, from}]
	for i := 1; i < len(ts); i++ {
		if ts[i].seq != ts[i-1].seq+1 {
			gaps++
		}
		worst = max(worst, ts[i].at.Sub(ts[i-1].at))
	}
	return len(ts), gaps, worst
}

// listClient is a Socket.IO client with a list of nodes: when its
// connection ends it connects to the next node of the list.
type listClient struct {
	id    int
	nodes []string

	mu      sync.Mutex
	current int
	hops    int
}

func (c *listClient) node() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[c.current]
}

func (c *listClient) moved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hops > 0
}

func startListClient(t *testing.T, id int, nodes []string, first int, rec *tickLog) *listClient {
	t.Helper()
	c := &listClient{id: id, nodes: nodes, current: first}
	ctx, cancel := context.WithCancel(context.Background())
	connected := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for attempt := 0; ctx.Err() == nil; attempt++ {
			conn, err := connectTo(ctx, c.node())
			if err == nil {
				if attempt == 0 {
					connected <- nil
				}
				c.read(ctx, conn, rec)
				conn.CloseNow()
			} else if attempt == 0 {
				connected <- err
				return
			}
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.current = (c.current + 1) % len(c.nodes)
			c.hops++
			c.mu.Unlock()
			time.Sleep(50 * time.Millisecond) // as a client's reconnection delay
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if err := <-connected; err != nil {
		t.Fatalf("client %d: %v", c.id, err)
	}
	return c
}

func connectTo(ctx context.Context, addr string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		return nil, err
	}
	for _, step := range []struct{ send, want string }{{"", "0{"}, {"40", "40{"}} {
		if step.send != "" {
			if err := conn.Write(dctx, websocket.MessageText, []byte(step.send)); err != nil {
				conn.CloseNow()
				return nil, err
			}
		}
		if _, b, err := conn.Read(dctx); err != nil || !strings.HasPrefix(string(b), step.want) {
			conn.CloseNow()
			return nil, fmt.Errorf("connect to %s: %q, %v", addr, b, err)
		}
	}
	return conn, nil
}

// read records ticks until the connection ends.
func (c *listClient) read(ctx context.Context, conn *websocket.Conn, rec *tickLog) {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		switch s := string(b); {
		case s == "2":
			_ = conn.Write(ctx, websocket.MessageText, []byte("3"))
		case strings.HasPrefix(s, `42["tick",`):
			var from, seq int
			if _, err := fmt.Sscanf(s, `42["tick",%d,%d]`, &from, &seq); err == nil {
				rec.add(c.id, from, seq)
			}
		}
	}
}

package transport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMemoryPerConnection measures the server's memory per idle websocket
// session. It runs only when SOCKGATE_MEMTEST is the number of connections:
//
//	SOCKGATE_MEMTEST=10000 go test -run TestMemoryPerConnection -v ./pkg/transport/
//
// The clients live in a child process (this test binary in client mode), so
// the RSS measured is the server's alone.
func TestMemoryPerConnection(t *testing.T) {
	if addr := os.Getenv("SOCKGATE_MEMTEST_CLIENT"); addr != "" {
		memClient(t, addr)
		return
	}
	n, _ := strconv.Atoi(os.Getenv("SOCKGATE_MEMTEST"))
	if n <= 0 {
		t.Skip("set SOCKGATE_MEMTEST=<connections> to measure memory per connection")
	}
	srv, err := NewServer(Config{Handler: nopHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	}()

	before := memSnapshot()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryPerConnection$")
	cmd.Env = append(os.Environ(), "SOCKGATE_MEMTEST_CLIENT="+ln.Addr().String())
	stdin, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	start := time.Now()
	checkFor(t, 120*time.Second, "all connections", func() bool { return srv.Count() >= n })
	connectTime := time.Since(start)
	time.Sleep(time.Second) // let the handshakes' garbage become garbage
	after := memSnapshot()
	if path := os.Getenv("SOCKGATE_MEMTEST_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}

	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
	report := fmt.Sprintf("%d idle websocket sessions (connected in %v): RSS %.2f KiB/conn (%.1f -> %.1f MiB), heap in use %.2f KiB/conn, stacks %.2f KiB/conn, goroutines %.2f/conn",
		n, connectTime.Round(time.Millisecond), per(after.rss, before.rss), float64(before.rss)/(1<<20), float64(after.rss)/(1<<20),
		per(after.heap, before.heap), per(after.stack, before.stack), float64(after.goroutines-before.goroutines)/float64(n))
	t.Log(report)
	fmt.Println(report)
}

type memStats struct {
	rss, heap, stack uint64
	goroutines       int
}

func memSnapshot() memStats {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{rss: readRSS(), heap: ms.HeapInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// readRSS returns VmRSS from /proc/self/status, in bytes.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

type nopHandler struct{}

func (nopHandler) OnOpen(*Conn)                  {}
func (nopHandler) OnMessage(*Conn, []byte, bool) {}
func (nopHandler) OnClose(*Conn, string)         {}

// memClient opens SOCKGATE_MEMTEST websocket sessions to addr with raw
// sockets (a browser-like handshake), reads each open packet, and holds them
// until stdin closes.
func memClient(t *testing.T, addr string) {
	n, _ := strconv.Atoi(os.Getenv("SOCKGATE_MEMTEST"))
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
		"Host: " + addr + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Origin: http://" + addr + "\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for w := 0; w < 32; w++ {
		wg.Go(func() {
			buf := make([]byte, 1024)
			for range jobs {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.WriteString(c, req)
				// Read the 101 response and the open packet.
				got := 0
				for !bytes.Contains(buf[:got], []byte(`"maxPayload"`)) && got < len(buf) {
					m, err := c.Read(buf[got:])
					if err != nil {
						t.Error(err)
						return
					}
					got += m
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	for _, c := range conns {
		c.Close()
	}
}

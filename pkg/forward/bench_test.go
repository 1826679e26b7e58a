package forward

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkPollingRoundTrip is one polling round trip (a POST with a
// message, then the GET that brings its echo back), straight to the owner
// and through another node. The difference is what forwarding adds;
// cpu-µs/op is the CPU time of the whole process (client, nodes, proxy) per
// round trip, reported where cpuTime can read it (Unix and Windows).
//
//	go test -run '^$' -bench PollingRoundTrip -benchtime 2000x ./pkg/forward
func BenchmarkPollingRoundTrip(b *testing.B) {
	nodes := startNodes(b, 2)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(c.CloseIdleConnections)
	sid := handshake(b, c, nodes[0])
	for _, bc := range []struct {
		name string
		via  *testNode
	}{{"direct", nodes[0]}, {"forwarded", nodes[1]}} {
		b.Run(bc.name, func(b *testing.B) {
			url := bc.via.url + query(sid)
			roundTrip := func() {
				resp, err := c.Post(url, "text/plain;charset=UTF-8", strings.NewReader("4ping"))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				resp, err = c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != "4ping" {
					b.Fatalf("GET %q", body)
				}
			}
			roundTrip() // warm the connections and the registry cache
			cpu0, cpuOK := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				roundTrip()
			}
			b.StopTimer()
			if cpu1, ok := cpuTime(); cpuOK && ok {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			}
		})
	}
}

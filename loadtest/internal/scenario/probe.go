package scenario

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sockgate/sockgate/loadtest/internal/nodestat"
)

// probe samples the nodes' cost: /proc for the given PIDs, /metrics always
// (for the sockets gauge, and for CPU and RSS when no PIDs are given).
type probe struct {
	cfg  Config
	http *http.Client
}

func newProbe(cfg Config) *probe {
	return &probe{cfg: cfg, http: &http.Client{Timeout: 5 * time.Second}}
}

type sample struct {
	at      time.Time
	self    nodestat.Proc // the generator itself
	procs   []nodestat.Proc
	redis   *nodestat.Proc
	metrics []nodestat.Metrics // per node; nil where the scrape failed
}

func metricsURL(node string) string {
	if !strings.Contains(node, "://") {
		node = "http://" + node
	}
	u, err := url.Parse(node)
	if err != nil {
		return node
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery = "/metrics", ""
	return u.String()
}

func (p *probe) take(ctx context.Context) sample {
	s := sample{at: time.Now()}
	s.self, _ = nodestat.ReadProc(os.Getpid())
	for _, pid := range p.cfg.PIDs {
		pr, err := nodestat.ReadProc(pid)
		if err != nil {
			pr = nodestat.Proc{PID: pid, RSSBytes: -1}
		}
		s.procs = append(s.procs, pr)
	}
	if p.cfg.RedisPID > 0 {
		if pr, err := nodestat.ReadProc(p.cfg.RedisPID); err == nil {
			s.redis = &pr
		}
	}
	s.metrics = make([]nodestat.Metrics, len(p.cfg.Nodes))
	for i, n := range p.cfg.Nodes {
		if m, err := nodestat.Scrape(ctx, p.http, metricsURL(n)); err == nil {
			s.metrics[i] = m
		}
	}
	return s
}

// sockets returns the summed sockets gauge of all nodes, or -1 when it is
// not known for some node.
func (p *probe) sockets(s sample) float64 {
	total := 0.0
	for _, m := range s.metrics {
		if m == nil {
			return -1
		}
		name := p.cfg.SocketsMetric
		if name == "" {
			name = detectSocketsMetric(m)
		}
		v, ok := m.Sum(name)
		if !ok {
			return -1
		}
		total += v
	}
	return total
}

// detectSocketsMetric guesses the gauge that counts connected sockets: a
// non-counter sample whose name mentions sockets or connections, outside the
// Go and process collectors, preferring names that say "sockets".
func detectSocketsMetric(m nodestat.Metrics) string {
	var cands []string
	seen := map[string]bool{}
	for k := range m {
		name := k
		if i := strings.IndexByte(k, '{'); i >= 0 {
			name = k[:i]
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		bad := false
		for _, suf := range []string{"_total", "_created", "_bucket", "_sum", "_count", "_bytes", "_seconds"} {
			if strings.HasSuffix(name, suf) {
				bad = true
			}
		}
		if bad || !(strings.Contains(name, "socket") || strings.Contains(name, "connection")) {
			continue
		}
		cands = append(cands, name)
	}
	sort.Slice(cands, func(i, j int) bool {
		si, sj := strings.HasSuffix(cands[i], "sockets"), strings.HasSuffix(cands[j], "sockets")
		if si != sj {
			return si
		}
		return cands[i] < cands[j]
	})
	if len(cands) == 0 {
		return ""
	}
	return cands[0]
}

// ServerCost is what the nodes spent during a scenario's measured window.
type ServerCost struct {
	Source          string     `json:"source"` // "proc" (from -pids), "metrics" or "none"
	WindowSeconds   float64    `json:"window_s"`
	CPUSeconds      float64    `json:"cpu_s"`                 // all nodes
	UserCPUSeconds  float64    `json:"cpu_user_s,omitempty"`  // its user part (from /proc)
	LoadgenCPU      float64    `json:"loadgen_cpu_s"`         // this generator, same window
	RedisCPUSeconds float64    `json:"redis_cpu_s,omitempty"` // when -redis-pid is given
	Op              string     `json:"op"`
	Ops             float64    `json:"ops"`
	CPUMicrosPerOp  float64    `json:"cpu_us_per_op"`
	CPUMicrosPerOpR float64    `json:"cpu_us_per_op_incl_redis,omitempty"`
	RSSBeforeBytes  int64      `json:"rss_before_bytes"`
	RSSAfterBytes   int64      `json:"rss_after_bytes"`
	RSSPerConnBytes float64    `json:"rss_per_conn_bytes,omitempty"`
	SocketsBefore   float64    `json:"sockets_before"` // -1: unknown
	SocketsAfter    float64    `json:"sockets_after"`
	Nodes           []NodeCost `json:"nodes"`
}

// NodeCost is one node's part of ServerCost.
type NodeCost struct {
	PID            int     `json:"pid,omitempty"`
	URL            string  `json:"url,omitempty"`
	CPUSeconds     float64 `json:"cpu_s"`
	UserCPUSeconds float64 `json:"cpu_user_s,omitempty"`
	RSSBeforeBytes int64   `json:"rss_before_bytes"`
	RSSAfterBytes  int64   `json:"rss_after_bytes"`
}

// cost compares two samples. CPU is counted between cpuFrom and cpuTo, RSS
// between rssFrom and rssTo (a scenario may measure memory at another moment
// than CPU). conns > 0 fills RSSPerConnBytes.
func (p *probe) cost(cpuFrom, cpuTo, rssFrom, rssTo sample, op string, ops float64, conns int) ServerCost {
	c := ServerCost{Op: op, Ops: ops, WindowSeconds: cpuTo.at.Sub(cpuFrom.at).Seconds(),
		SocketsBefore: p.sockets(rssFrom), SocketsAfter: p.sockets(rssTo)}
	switch {
	case len(p.cfg.PIDs) > 0:
		c.Source = "proc"
		for i, pid := range p.cfg.PIDs {
			n := NodeCost{PID: pid,
				CPUSeconds:     (cpuTo.procs[i].CPU - cpuFrom.procs[i].CPU).Seconds(),
				UserCPUSeconds: (cpuTo.procs[i].User - cpuFrom.procs[i].User).Seconds(),
				RSSBeforeBytes: rssFrom.procs[i].RSSBytes,
				RSSAfterBytes:  rssTo.procs[i].RSSBytes}
			c.Nodes = append(c.Nodes, n)
		}
	default:
		c.Source = "metrics"
		for i, url := range p.cfg.Nodes {
			n := NodeCost{URL: url}
			get := func(s sample, name string) float64 {
				if s.metrics[i] == nil {
					return -1
				}
				v, ok := s.metrics[i].Sum(name)
				if !ok {
					return -1
				}
				return v
			}
			a, b := get(cpuFrom, "process_cpu_seconds_total"), get(cpuTo, "process_cpu_seconds_total")
			if a < 0 || b < 0 {
				c.Source = "none"
			}
			n.CPUSeconds = b - a
			n.RSSBeforeBytes = int64(get(rssFrom, "process_resident_memory_bytes"))
			n.RSSAfterBytes = int64(get(rssTo, "process_resident_memory_bytes"))
			c.Nodes = append(c.Nodes, n)
		}
	}
	for _, n := range c.Nodes {
		c.CPUSeconds += n.CPUSeconds
		c.UserCPUSeconds += n.UserCPUSeconds
		c.RSSBeforeBytes += n.RSSBeforeBytes
		c.RSSAfterBytes += n.RSSAfterBytes
	}
	c.LoadgenCPU = (cpuTo.self.CPU - cpuFrom.self.CPU).Seconds()
	if cpuFrom.redis != nil && cpuTo.redis != nil {
		c.RedisCPUSeconds = (cpuTo.redis.CPU - cpuFrom.redis.CPU).Seconds()
	}
	if ops > 0 {
		c.CPUMicrosPerOp = c.CPUSeconds * 1e6 / ops
		if c.RedisCPUSeconds > 0 {
			c.CPUMicrosPerOpR = (c.CPUSeconds + c.RedisCPUSeconds) * 1e6 / ops
		}
	}
	if conns > 0 {
		c.RSSPerConnBytes = float64(c.RSSAfterBytes-c.RSSBeforeBytes) / float64(conns)
	}
	return c
}

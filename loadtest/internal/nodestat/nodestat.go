// Package nodestat samples the cost of the server processes under test:
// CPU time and resident memory from /proc/<pid> for processes on this machine
// (Linux only; elsewhere ReadProc returns the error of reading /proc), and
// gauges scraped from a node's Prometheus /metrics page.
//
// All functions are safe for concurrent use; none keeps state.
package nodestat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Proc is one sample of a process.
type Proc struct {
	PID      int
	CPU      time.Duration // user + system time consumed so far
	User     time.Duration // user time alone
	RSSBytes int64         // VmRSS
}

// ReadProc samples /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (Proc, error) {
	p := Proc{PID: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	if p.User, p.CPU, err = parseStatCPU(stat); err != nil {
		return p, fmt.Errorf("nodestat: pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	if p.RSSBytes, err = parseStatusRSS(status); err != nil {
		return p, fmt.Errorf("nodestat: pid %d: %w", pid, err)
	}
	return p, nil
}

// parseStatCPU returns utime and utime+stime from the text of
// /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (user, total time.Duration, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, 0, errors.New("short stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(utime), tick(utime + stime), nil
}

// parseStatusRSS returns VmRSS in bytes from the text of /proc/<pid>/status.
func parseStatusRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(line[len("VmRSS:"):])
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmRSS")
}

// Metrics is a scrape of a Prometheus text page: each sample's full name
// with labels (as written on the page, e.g. `x{a="b"}`) to its value.
type Metrics map[string]float64

// Scrape fetches and parses url (a /metrics page).
func Scrape(ctx context.Context, client *http.Client, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("nodestat: %s: %s", url, resp.Status)
	}
	return ParseMetrics(io.LimitReader(resp.Body, 16<<20))
}

// ParseMetrics reads the Prometheus text exposition format, skipping
// comments and lines it cannot read.
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The name (with labels) ends at the first space outside braces.
		end := strings.IndexByte(line, '}')
		if end < 0 {
			end = strings.IndexByte(line, ' ')
		} else {
			end++
		}
		if end <= 0 || end >= len(line) {
			continue
		}
		rest := strings.Fields(line[end:])
		if len(rest) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			continue
		}
		m[strings.TrimSpace(line[:end])] = v
	}
	return m, sc.Err()
}

// Sum adds the samples of the metric called name, over all its label sets.
// ok is false when the page has no such metric.
func (m Metrics) Sum(name string) (sum float64, ok bool) {
	for k, v := range m {
		if k == name || (strings.HasPrefix(k, name) && k[len(name)] == '{') {
			sum += v
			ok = true
		}
	}
	return sum, ok
}

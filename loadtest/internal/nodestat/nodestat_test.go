package nodestat

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		stat string
		user time.Duration
		want time.Duration
		ok   bool
	}{
		{"plain", "42 (gateway) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1 1 1", 2500 * time.Millisecond, 3 * time.Second, true},
		{"spaces and parens in comm", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0", 10 * time.Millisecond, 30 * time.Millisecond, true},
		{"short", "7 (x) R 1 2", 0, 0, false},
		{"no paren", "garbage", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, got, err := parseStatCPU([]byte(tt.stat))
			if (err == nil) != tt.ok || got != tt.want || user != tt.user {
				t.Fatalf("got %v/%v, %v; want %v/%v ok=%v", user, got, err, tt.user, tt.want, tt.ok)
			}
		})
	}
}

func TestReadProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("ReadProc reads /proc/<pid>, which %s does not have", runtime.GOOS)
	}
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSSBytes <= 0 || p.CPU < 0 {
		t.Fatalf("implausible sample %+v", p)
	}
}

func TestParseMetrics(t *testing.T) {
	page := `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345678e+07
sockgate_sockets{namespace="/"} 10
sockgate_sockets{namespace="/chat"} 5
go_goroutines 12
bad line
weird{a="x y"} 3 1700000000
`
	m, err := ParseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
		ok   bool
	}{
		{"process_resident_memory_bytes", 12345678, true},
		{"sockgate_sockets", 15, true},
		{"go_goroutines", 12, true},
		{"weird", 3, true},
		{"go_gorout", 0, false},
		{"missing", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Sum(tt.name)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Sum(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

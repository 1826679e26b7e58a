package leakcheck_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/internal/leakcheck"
)

func parkedUntilClosed(started chan<- struct{}, stop <-chan struct{}, done chan<- struct{}) {
	close(started)
	<-stop
	close(done)
}

// startParked starts parkedUntilClosed and returns once it runs: a goroutine
// that has not been scheduled yet may not show its function in the stacks.
func startParked(stop <-chan struct{}, done chan<- struct{}) {
	started := make(chan struct{})
	go parkedUntilClosed(started, stop, done)
	<-started
}

func TestCheck(t *testing.T) {
	stop, done := make(chan struct{}), make(chan struct{})
	startParked(stop, done)
	defer func() { close(stop); <-done }()

	tests := []struct {
		name  string
		o     leakcheck.Options
		leaks bool
	}{
		{"matched", leakcheck.Options{Match: []string{"leakcheck_test.parkedUntilClosed"}}, true},
		{"ignored", leakcheck.Options{Match: []string{"leakcheck_test.parkedUntilClosed"}, Ignore: []string{"parkedUntil"}}, false},
		{"not matched", leakcheck.Options{Match: []string{"no such function"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Wait = 50 * time.Millisecond
			err := leakcheck.Check(tt.o)
			if (err != nil) != tt.leaks {
				t.Fatalf("Check: %v, want leaks %v", err, tt.leaks)
			}
			if err != nil && !strings.Contains(err.Error(), "parkedUntilClosed") {
				t.Fatalf("error lacks the stack: %v", err)
			}
		})
	}
}

func TestCheckWaitsForEnd(t *testing.T) {
	stop, done := make(chan struct{}), make(chan struct{})
	startParked(stop, done)
	time.AfterFunc(50*time.Millisecond, func() { close(stop) })
	if err := leakcheck.Check(leakcheck.Options{Match: []string{"leakcheck_test.parkedUntilClosed"}, Wait: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestCheckSkipsCaller(t *testing.T) {
	if err := leakcheck.Check(leakcheck.Options{Match: []string{"leakcheck_test.TestCheckSkipsCaller"}, Wait: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// Package leakcheck finds goroutines that outlive a package's tests. It is
// meant for TestMain (see Exit) and for tests that check a shutdown (see
// Check). It reads the stacks of all goroutines, so it is for tests only.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Options says which goroutines count as leaks and how long they may take
// to end.
type Options struct {
	// Match lists substrings of a goroutine's stack that make it a leak,
	// such as a package path ("sockgate/pkg/transport.").
	Match []string
	// Ignore lists substrings that exempt a goroutine that Match selected,
	// such as "testing.tRunner". The goroutine calling Check is always
	// exempt.
	Ignore []string
	// Wait is how long Check waits for the leaks to end. Zero means 5s.
	Wait time.Duration
}

// pollInterval is how often Check looks at the goroutines again.
const pollInterval = 20 * time.Millisecond

// self is in the stack of the goroutine calling Check.
const self = "sockgate/internal/leakcheck."

// Check waits up to o.Wait for the goroutines that o selects to end. It
// returns an error with the stacks of those still running then.
func Check(o Options) error {
	wait := o.Wait
	if wait == 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		leaks := leaked(o)
		if len(leaks) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leakcheck: %d goroutines still running after %v:\n%s",
				len(leaks), wait, strings.Join(leaks, "\n\n"))
		}
		time.Sleep(pollInterval)
	}
}

// Exit exits the test binary with code, or with 1 when code is 0 but Check
// finds leaks, which it prints. Call it at the end of TestMain with the
// result of m.Run.
func Exit(code int, o Options) {
	if code == 0 {
		if err := Check(o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// leaked returns the stacks of the goroutines that o selects.
func leaked(o Options) []string {
	var leaks []string
	for g := range strings.SplitSeq(allStacks(), "\n\n") {
		if containsAny(g, o.Match) && !strings.Contains(g, self) && !containsAny(g, o.Ignore) {
			leaks = append(leaks, g)
		}
	}
	return leaks
}

// allStacks returns the stacks of all goroutines, growing the buffer until
// they fit.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

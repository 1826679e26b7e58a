// Command testreport reads `go test -json` from stdin and prints what plain
// `go test` prints (package result lines, and the output of failing tests
// only), then one closing line:
//
//	go: N passed, N failed, N skipped
//
// counting top-level tests (and packages that failed to build or crashed as
// failures). It exits 1 when anything failed. scripts/test.sh uses it so that
// a CI log stays short but still shows every failure and a countable summary.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

type report struct {
	out                     io.Writer
	buffered                map[key][]string // output of running tests
	passed, failed, skipped int
	failedPkgs              map[string]bool // packages that failed with no failing test
	pkgFailedTests          map[string]int
}

func main() {
	r := &report{out: os.Stdout, buffered: map[key][]string{}, failedPkgs: map[string]bool{}, pkgFailedTests: map[string]int{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event (e.g. a linker error printed outside -json): pass it on.
			fmt.Fprintf(r.out, "%s\n", line)
			continue
		}
		r.handle(ev)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		r.failedPkgs["(stdin)"] = true
	}
	r.flushAll()
	fmt.Fprintf(r.out, "go: %d passed, %d failed, %d skipped\n", r.passed, r.failed+len(r.failedPkgs), r.skipped)
	if r.failed+len(r.failedPkgs) > 0 {
		os.Exit(1)
	}
}

func (r *report) handle(ev event) {
	switch {
	case ev.Action == "build-output":
		fmt.Fprint(r.out, ev.Output)
	case ev.Action == "build-fail":
		// Counted by the package's own "fail" event (FailedBuild).
	case ev.Test == "":
		r.packageEvent(ev)
	default:
		r.testEvent(ev)
	}
}

func (r *report) packageEvent(ev event) {
	switch ev.Action {
	case "output":
		// Plain go test prints the package's result line and anything the
		// test binary wrote outside a test (a crash, a TestMain message).
		if ev.Output != "PASS\n" && !strings.HasPrefix(ev.Output, "=== ") {
			fmt.Fprint(r.out, ev.Output)
		}
	case "fail":
		// A package that failed with no failing test crashed or timed out:
		// flush what its unfinished tests wrote.
		r.flushPackage(ev.Package)
		if r.pkgFailedTests[ev.Package] == 0 {
			r.failedPkgs[ev.Package] = true
		}
	}
}

func (r *report) testEvent(ev event) {
	k := key{ev.Package, ev.Test}
	topLevel := !strings.Contains(ev.Test, "/")
	switch ev.Action {
	case "output":
		if !strings.HasPrefix(ev.Output, "=== ") {
			r.buffered[k] = append(r.buffered[k], ev.Output)
		}
	case "pass", "skip":
		if topLevel {
			if ev.Action == "pass" {
				r.passed++
			} else {
				r.skipped++
			}
		}
		delete(r.buffered, k)
	case "fail":
		for _, s := range r.buffered[k] {
			fmt.Fprint(r.out, s)
		}
		delete(r.buffered, k)
		if topLevel {
			r.failed++
			r.pkgFailedTests[ev.Package]++
		}
	}
}

func (r *report) flushPackage(pkg string) {
	var keys []key
	for k := range r.buffered {
		if k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].test < keys[j].test })
	for _, k := range keys {
		for _, s := range r.buffered[k] {
			fmt.Fprint(r.out, s)
		}
		delete(r.buffered, k)
	}
}

func (r *report) flushAll() {
	pkgs := map[string]bool{}
	for k := range r.buffered {
		pkgs[k.pkg] = true
	}
	for pkg := range pkgs {
		r.flushPackage(pkg)
	}
}

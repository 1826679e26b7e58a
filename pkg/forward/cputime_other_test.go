//go:build !unix && !windows

package forward

import "time"

// cpuTime has no source of the process's CPU time here: benchmarks report
// no cpu-µs/op.
func cpuTime() (time.Duration, bool) { return 0, false }

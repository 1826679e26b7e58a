// Package logsample keeps client-caused log lines from flooding the log: a
// Sampler writes the first line of each reason at once, then at most one
// line per reason per period, carrying how many were left out meanwhile.
package logsample

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultPeriod is the period of a Sampler built with period 0.
const DefaultPeriod = 10 * time.Second

// Sampler rate-limits log lines by reason. Reasons must come from a small
// fixed set (constants, never client input): the Sampler keeps one entry per
// reason. Its methods may be called concurrently.
type Sampler struct {
	log    *slog.Logger
	level  slog.Level
	period time.Duration
	now    func() time.Time // tests replace it

	mu      sync.Mutex
	reasons map[string]*entry
}

type entry struct {
	last       time.Time // when the last line of this reason was written
	suppressed int       // occurrences left out since
}

// New returns a Sampler writing to log at level, one line per reason per
// period (0: DefaultPeriod).
func New(log *slog.Logger, level slog.Level, period time.Duration) *Sampler {
	if period <= 0 {
		period = DefaultPeriod
	}
	return &Sampler{log: log, level: level, period: period, now: time.Now, reasons: make(map[string]*entry)}
}

// Log records one occurrence of reason. It writes msg with attrs, plus
// "suppressed" (the occurrences left out since the previous line of this
// reason) when there were any, unless a line of this reason was written
// less than a period ago.
func (s *Sampler) Log(reason, msg string, attrs ...any) {
	if !s.log.Enabled(context.Background(), s.level) {
		return
	}
	now := s.now()
	s.mu.Lock()
	e := s.reasons[reason]
	if e == nil {
		e = &entry{}
		s.reasons[reason] = e
	} else if now.Sub(e.last) < s.period {
		e.suppressed++
		s.mu.Unlock()
		return
	}
	suppressed := e.suppressed
	e.last, e.suppressed = now, 0
	s.mu.Unlock()
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed, "period", s.period)
	}
	s.log.Log(context.Background(), s.level, msg, attrs...)
}

package logsample

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := New(log, slog.LevelWarn, 10*time.Second)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }

	steps := []struct {
		advance time.Duration
		reason  string
		want    string // substring of the line written; "" for none
	}{
		{0, "parse", "msg=bad reason=parse"},
		{time.Second, "parse", ""},
		{time.Second, "parse", ""},
		{0, "rate", "msg=bad reason=rate"}, // another reason has its own period
		{8 * time.Second, "parse", "suppressed=2"},
		{time.Second, "parse", ""},
		{10 * time.Second, "parse", "suppressed=1"},
		{10 * time.Second, "parse", "msg=bad reason=parse\n"}, // nothing left out: no count
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		buf.Reset()
		s.Log(st.reason, "bad", "reason", st.reason)
		got := buf.String()
		if st.want == "" {
			if got != "" {
				t.Errorf("step %d: wrote %q, want nothing", i, got)
			}
			continue
		}
		if !strings.Contains(got, st.want) || !strings.Contains(got, "level=WARN") {
			t.Errorf("step %d: wrote %q, want a WARN line with %q", i, got, st.want)
		}
	}
}

func TestSamplerDisabledLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	s := New(log, slog.LevelWarn, 0)
	for range 3 {
		s.Log("parse", "bad")
	}
	if buf.Len() != 0 || len(s.reasons) != 0 {
		t.Fatalf("a disabled level wrote %q and kept %d reasons", buf.String(), len(s.reasons))
	}
}

package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestDescribeFitsAndTellsTheTruth(t *testing.T) {
	s := Snapshot{Read: 1500, Done: 1200, Skipped: 30, Unknown: 2, Throttled: 7}
	got := describe(s, 3000, 48, 100)
	// 1,770 rows left at 48 a second.
	for _, want := range []string{"answered", "48/s", "ETA 37s", "2 unknown", "7 throttled"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// Less room drops the last figures first.
	for budget, want := range map[int]string{8: "answered", 20: "answered · 48/s", 30: "answered · 48/s · ETA 37s", 5: ""} {
		if d := describe(s, 3000, 48, budget); d != want {
			t.Errorf("budget %d: %q, want %q", budget, d, want)
		}
	}
	if got := describe(Snapshot{Done: 10}, -1, 5, 80); strings.Contains(got, "ETA") {
		t.Errorf("an ETA without a total: %q", got)
	}
	if got := describe(Snapshot{Done: 10}, 100, 0, 80); !strings.Contains(got, "ETA ?") {
		t.Errorf("a stalled run shows an ETA: %q", got)
	}
}

func TestLogLinesEvery10sWithTheSameFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var done atomic.Int64
		d := New(Options{
			Mode:   "auto", // buf is no terminal: log lines
			Out:    &buf,
			Logger: slog.New(slog.NewTextHandler(&buf, nil)),
			Total:  func() int64 { return 1000 },
			Read: func() Snapshot {
				return Snapshot{Read: done.Load() + 50, Done: done.Load(), Throttled: 3}
			},
		})
		if d.Bar() {
			t.Fatal("a bar on a buffer")
		}
		d.Start()
		for range 3 {
			done.Add(200)
			time.Sleep(10 * time.Second)
			synctest.Wait()
		}
		d.Stop()
		out := buf.String()
		if n := strings.Count(out, "msg=progress"); n != 3 {
			t.Fatalf("%d progress lines in 30 s, want 3:\n%s", n, out)
		}
		last := out[strings.LastIndex(out, "msg=progress"):]
		for _, want := range []string{"answered=600", "of=1000", "pct=60", "eta=20s", "per_sec=20", "throttled=3", "unknown=0", "rows_read=650"} {
			if !strings.Contains(last, want) {
				t.Errorf("last line lacks %q:\n%s", want, last)
			}
		}
		if strings.ContainsAny(out, "\r\033") {
			t.Errorf("control characters in the log: %q", out)
		}
	})
}

// TestNeverMeansNoBarButTheLogLines: AUDIT_PROGRESS=never silences the
// bar, not the log, so `kubectl logs -f` is never quiet for long.
func TestNeverMeansNoBarButTheLogLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, log bytes.Buffer
		d := New(Options{Mode: "never", Out: &out, Logger: slog.New(slog.NewTextHandler(&log, nil)),
			Read: func() Snapshot { return Snapshot{Done: 5} }})
		d.Start()
		time.Sleep(25 * time.Second)
		synctest.Wait()
		d.Stop()
		if out.Len() != 0 || d.Bar() {
			t.Errorf("a bar with never: %q", out.String())
		}
		if n := strings.Count(log.String(), "msg=progress"); n != 2 {
			t.Errorf("%d log lines in 25 s, want 2:\n%s", n, log.String())
		}
		if strings.Contains(log.String(), "of=") {
			t.Errorf("a total that is not known: %s", log.String())
		}
	})
}

// TestAlwaysDrawsOneLineRedrawn draws the bar into a buffer (always) and
// reads it as a terminal would: every frame starts at column 0 with \r, no
// line break, none wider than the 80 columns assumed off a terminal.
func TestAlwaysDrawsOneLineRedrawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, log bytes.Buffer
		var done atomic.Int64
		d := New(Options{Mode: "always", Out: &out, LogOut: &log, Logger: slog.New(slog.NewTextHandler(&log, nil)),
			Total: func() int64 { return 100000 },
			Read:  func() Snapshot { return Snapshot{Done: done.Load(), Unknown: 12345, Throttled: 67890} }})
		d.Start()
		for range 20 {
			done.Add(1234)
			time.Sleep(200 * time.Millisecond)
			synctest.Wait()
		}
		d.Stop()
		frames := Frames(out.String())
		if len(frames) < 15 || strings.Contains(out.String(), "\n") {
			t.Fatalf("%d frames, want 20 on one line:\n%q", len(frames), out.String())
		}
		for _, f := range frames {
			if w := len([]rune(f)); w > 80 {
				t.Errorf("a frame %d wide: %q", w, f)
			}
		}
		if last := frames[len(frames)-1]; !strings.Contains(last, "(24680/100000) answered · 6170/s · ETA 12s · 12345 unknown") {
			t.Errorf("last frame %q", last)
		}
	})
}

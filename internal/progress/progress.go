// Package progress shows how far a run is: a bar on a terminal, otherwise a
// log line every few seconds.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Snapshot is the state of a run at one moment.
type Snapshot struct {
	Read      int64   // rows taken from the source (what Total counts)
	Done      int64   // results written
	Unknown   int64   // results whose state is unknown
	Resumed   int64   // results taken from an earlier attempt
	Throttled int64   // 429 answers so far
	Rate      float64 // the client's current request rate ceiling (0 = none)
}

// Options configure Start.
type Options struct {
	Mode     string       // "auto", "always" (a bar even off a terminal) or "never"
	Out      io.Writer    // where the bar goes (stderr)
	Logger   *slog.Logger // where log lines go
	Total    func() int64 // rows expected (an estimate will do), -1 when unknown
	Read     func() Snapshot
	Interval time.Duration // between log lines; default 5s
}

// Start shows progress until the returned stop is called; stop clears the
// bar and returns once the display goroutine has ended.
func Start(o Options) (stop func()) {
	if o.Mode == "never" || o.Read == nil {
		return func() {}
	}
	bar := o.Mode == "always" || (o.Mode == "auto" && isTerminal(o.Out))
	interval := o.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if bar {
		interval = 200 * time.Millisecond
	}
	if o.Total == nil {
		o.Total = func() int64 { return -1 }
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		r, rows := newRater(time.Now()), newRater(time.Now())
		for {
			select {
			case <-done:
				if bar {
					fmt.Fprint(o.Out, "\r\033[K")
				}
				return
			case now := <-t.C:
				s := o.Read()
				rate, rowRate := r.observe(now, s.Done), rows.observe(now, s.Read)
				total := o.Total()
				if bar {
					fmt.Fprint(o.Out, "\r\033[K"+Bar(s, total, rate, rowRate, 30))
					continue
				}
				args := []any{"done", s.Done, "per_sec", float64(int64(rate*10)) / 10, "unknown", s.Unknown, "throttled", s.Throttled}
				if total >= 0 {
					args = append(args, "rows_read", s.Read, "rows_total", total)
				}
				if s.Resumed > 0 {
					args = append(args, "resumed", s.Resumed)
				}
				if s.Rate > 0 {
					args = append(args, "rate_ceiling", float64(int64(s.Rate*10))/10)
				}
				o.Logger.Info("progress", args...)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// Bar renders one line: with a total, a bar of rows read and the time
// left at rowsPerSec; always the results written and their rate.
func Bar(s Snapshot, total int64, perSec, rowsPerSec float64, width int) string {
	var b strings.Builder
	if total > 0 {
		frac := min(float64(s.Read)/float64(total), 1)
		n := int(frac * float64(width))
		b.WriteString("[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] ")
		fmt.Fprintf(&b, "%3.0f%% of ~%d rows  ", frac*100, total)
		if rowsPerSec > 0 && s.Read < total {
			eta := time.Duration(float64(total-s.Read) / rowsPerSec * float64(time.Second))
			fmt.Fprintf(&b, "ETA %s  ", eta.Round(time.Second))
		}
	}
	fmt.Fprintf(&b, "%d done  %.0f/s  unknown %d  throttled %d", s.Done, perSec, s.Unknown, s.Throttled)
	return b.String()
}

// rater is an exponentially smoothed rate of a growing counter.
type rater struct {
	last  time.Time
	count int64
	rate  float64
}

func newRater(now time.Time) *rater { return &rater{last: now} }

func (r *rater) observe(now time.Time, count int64) float64 {
	dt := now.Sub(r.last).Seconds()
	if dt <= 0 {
		return r.rate
	}
	inst := float64(count-r.count) / dt
	if r.rate == 0 {
		r.rate = inst
	} else {
		r.rate = 0.7*r.rate + 0.3*inst
	}
	r.last, r.count = now, count
	return r.rate
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

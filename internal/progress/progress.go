// Package progress shows how far a run is (SPEC 12): on a terminal one
// line, redrawn in place and never wider than the terminal, drawn by
// github.com/schollz/progressbar/v3; elsewhere a log line every 10 s with
// the same figures. Both count subjects answered against the total where it
// is known, with the answer rate and the time left at that rate.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Snapshot is the state of a run at one moment.
type Snapshot struct {
	Read      int64   // rows taken from the source
	Done      int64   // subjects answered (results written)
	Skipped   int64   // rows that need no answer: repeats, other shards' subjects
	Unknown   int64   // results whose state is unknown
	Resumed   int64   // results taken from an earlier attempt
	Throttled int64   // 429 answers so far
	Rate      float64 // the client's current request rate ceiling (0 = none)
}

// settled is what Total counts down: rows answered or needing no answer.
// The rates leave out the results taken from an earlier attempt: they
// arrive at once and say nothing about the time left.
func (s Snapshot) settled() int64 { return s.Done + s.Skipped }

// Options configure New.
type Options struct {
	// Mode is "auto" (a bar when Out is a terminal, else log lines),
	// "always" (a bar even when Out is not a terminal) or "never" (no bar:
	// log lines, so that a log is never silent for long).
	Mode   string
	Out    io.Writer    // where the bar goes (stderr)
	Logger *slog.Logger // where log lines go
	// LogOut is where Logger writes; when the bar is shown on a terminal
	// and LogOut is a terminal too, the log lines are left out (the bar
	// tells the same).
	LogOut io.Writer
	Total  func() int64 // rows expected (an estimate will do), -1 while unknown
	Read   func() Snapshot
	// Interval between log lines; default 10 s.
	Interval time.Duration
}

// Display shows the progress of one run between Start and Stop.
type Display struct {
	o        Options
	bar      bool // draw a bar on Out
	lines    bool // write log lines
	mu       sync.Mutex
	pb       *progressbar.ProgressBar
	pbTotal  int64 // the max pb was made with (-1: unknown)
	pbWidth  int   // its bar's width (0: a spinner)
	done     chan struct{}
	wg       sync.WaitGroup
	barRate  *rater
	lineRate *rater
	log      *slog.Logger
}

// SetLogger replaces Options.Logger before Start: the logger that writes
// through Guard is made after New.
func (d *Display) SetLogger(l *slog.Logger) { d.log = l }

// New decides how progress is shown; nothing is shown before Start.
func New(o Options) *Display {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Total == nil {
		o.Total = func() int64 { return -1 }
	}
	d := &Display{o: o, done: make(chan struct{}), log: o.Logger}
	if o.Read == nil {
		return d
	}
	d.bar = o.Mode == "always" || o.Mode == "auto" && isTerminal(o.Out)
	d.lines = !d.bar || !isTerminal(o.LogOut)
	return d
}

// Bar reports whether a bar is drawn (and so whether a summary for people
// belongs on Out at the end).
func (d *Display) Bar() bool { return d.bar }

// Guard wraps w (the log's writer) so that a line written to it while the
// bar is shown first clears the bar's line; the bar is drawn again on its
// next tick. Without a bar it returns w.
func (d *Display) Guard(w io.Writer) io.Writer {
	if !d.bar {
		return w
	}
	return guard{d: d, w: w}
}

type guard struct {
	d *Display
	w io.Writer
}

func (g guard) Write(p []byte) (int, error) {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	if g.d.pb != nil {
		io.WriteString(g.d.o.Out, "\r\033[2K")
	}
	return g.w.Write(p)
}

// Start begins showing progress: the bar redrawn five times a second, log
// lines every Interval.
func (d *Display) Start() {
	if !d.bar && !d.lines {
		return
	}
	now := time.Now()
	// The bar's rate is smoothed over some seconds (ticks of 0.2 s); a log
	// line's is the rate since the line before.
	d.barRate, d.lineRate = newRater(now, 0.1), newRater(now, 1)
	d.wg.Go(func() {
		var barTick <-chan time.Time
		if d.bar {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			barTick = t.C
		}
		var lineTick <-chan time.Time
		if d.lines {
			t := time.NewTicker(d.o.Interval)
			defer t.Stop()
			lineTick = t.C
		}
		for {
			select {
			case <-d.done:
				return
			case now := <-barTick:
				d.drawBar(now)
			case now := <-lineTick:
				d.logLine(now)
			}
		}
	})
}

// Stop ends the display and clears the bar's line; it returns once
// nothing more will be written.
func (d *Display) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	close(d.done)
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pb != nil {
		d.pb.Exit()
		io.WriteString(d.o.Out, "\r\033[2K")
		d.pb = nil
	}
}

// drawBar redraws the bar with the figures of now.
func (d *Display) drawBar(now time.Time) {
	s := d.o.Read()
	total := d.o.Total()
	rate := d.barRate.observe(now, s.settled()-s.Resumed)
	if total >= 0 && s.settled() >= total {
		total = -1 // the estimate fell short: count on without a share
	}
	// One column is kept free: a line that fills the last column leaves
	// some terminals' cursor waiting to wrap.
	width := termWidth(d.o.Out) - 1
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pb == nil || d.pbTotal != total {
		// A bar of a known total cannot become one of an unknown total and
		// back: a new one takes over (it happens at most once or twice).
		if d.pb != nil {
			d.pb.Exit()
		}
		d.pbWidth = 0
		if total >= 0 {
			// Room for the figures first (about 44 columns), then the bar.
			d.pbWidth = max(10, min(40, width-fixedWidth(total)-44))
		}
		d.pb = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(d.o.Out),
			progressbar.OptionSetWidth(max(d.pbWidth, 10)),
			progressbar.OptionShowCount(),
			progressbar.OptionUseANSICodes(true), // redraw: \r, the line, then erase its rest
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(0),
			progressbar.OptionSetRenderBlankState(false),
		)
		d.pbTotal = total
	}
	d.pb.Describe(describe(s, total, rate, width-fixedWidth(max(total, s.settled()))-d.pbWidth))
	d.pb.Set64(s.settled())
}

// fixedWidth is what the library's line takes besides the bar and the
// description: " 42% |" + "| (" + count/total + ") " + a trailing space;
// for an unknown total a spinner, " (", the count and ") ".
func fixedWidth(total int64) int {
	digits := len(fmt.Sprint(max(total, 0)))
	return 6 + 3 + 2*digits + 1 + 2 + 1
}

// describe is the text after the bar: what is counted, the answer rate,
// the time left at that rate, and unknown and throttled answers, as many
// of them as fit in budget columns.
func describe(s Snapshot, total int64, rate float64, budget int) string {
	parts := []string{"answered", fmt.Sprintf("%s/s", num(rate))}
	if total > 0 {
		parts = append(parts, "ETA "+eta(total-s.settled(), rate))
	}
	if s.Unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown", s.Unknown))
	}
	if s.Throttled > 0 {
		parts = append(parts, fmt.Sprintf("%d throttled", s.Throttled))
	}
	out := ""
	for _, p := range parts {
		next := p
		if out != "" {
			next = out + " · " + p
		}
		if len([]rune(next)) > budget {
			break
		}
		out = next
	}
	return out
}

// logLine writes one progress log line.
func (d *Display) logLine(now time.Time) {
	s := d.o.Read()
	total := d.o.Total()
	rate := d.lineRate.observe(now, s.settled()-s.Resumed)
	args := []any{"answered", s.Done}
	if total > 0 {
		args = append(args, "of", total, "pct", math.Floor(float64(s.settled())*1000/float64(total))/10,
			"eta", eta(total-s.settled(), rate))
	}
	args = append(args, "per_sec", round1(rate), "unknown", s.Unknown, "throttled", s.Throttled, "rows_read", s.Read)
	if s.Skipped > 0 {
		args = append(args, "skipped", s.Skipped)
	}
	if s.Resumed > 0 {
		args = append(args, "resumed", s.Resumed)
	}
	if s.Rate > 0 {
		args = append(args, "rate_ceiling", round1(s.Rate))
	}
	if d.bar {
		d.mu.Lock()
		defer d.mu.Unlock()
	}
	d.log.Info("progress", args...)
}

// eta is the time left for n more at rate per second: "?" while nothing
// moves.
func eta(n int64, rate float64) string {
	if n <= 0 {
		return "0s"
	}
	if rate <= 0 {
		return "?"
	}
	secs := float64(n) / rate
	if secs > 100*24*3600 {
		return "?"
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Second).String()
}

func num(f float64) string {
	if f >= 10 || f == 0 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// rater is an exponentially smoothed rate of a growing counter; weight is
// the share of the newest observation.
type rater struct {
	last   time.Time
	count  int64
	rate   float64
	weight float64
	seen   bool
}

func newRater(now time.Time, weight float64) *rater { return &rater{last: now, weight: weight} }

func (r *rater) observe(now time.Time, count int64) float64 {
	dt := now.Sub(r.last).Seconds()
	if dt <= 0 {
		return r.rate
	}
	inst := float64(count-r.count) / dt
	if !r.seen {
		r.rate, r.seen = inst, true
	} else {
		r.rate = (1-r.weight)*r.rate + r.weight*inst
	}
	r.last, r.count = now, count
	return r.rate
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool { return isTerminal(w) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Width is the width of the terminal w is, or 80.
func Width(w io.Writer) int { return termWidth(w) }

// termWidth is the width of the terminal w is, or 80.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 80
}

// Frames splits what the bar wrote into the lines a terminal showed one
// after the other: each \r starts a frame again; escape sequences (erase
// to the end of the line) are dropped. For tests and checks by hand.
func Frames(out string) []string {
	var frames []string
	for _, f := range strings.Split(out, "\r") {
		f = ansi.ReplaceAllString(f, "")
		if strings.TrimSpace(f) != "" {
			frames = append(frames, f)
		}
	}
	return frames
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scenario is one named measurement; it adds its rows to b.tab.
type scenario struct {
	name string
	run  func(context.Context, *bench) error
}

func scenarios() []scenario {
	return []scenario{
		{"overhead", func(ctx context.Context, b *bench) error { return b.overhead(ctx) }},
		{"latency", func(ctx context.Context, b *bench) error { return b.latency(ctx) }},
		{"rate", func(ctx context.Context, b *bench) error { return b.rate(ctx) }},
		{"memory", func(ctx context.Context, b *bench) error { return b.memory(ctx) }},
		{"postgres", func(ctx context.Context, b *bench) error { return b.postgres(ctx) }},
		{"baseline", func(ctx context.Context, b *bench) error { return b.baseline(ctx) }},
	}
}

// bench is the state of one auditbench run.
type bench struct {
	bin   string // the audit binary
	dir   string // temporary directory
	quick bool
	pgURL string
	log   io.Writer
	start time.Time
	tab   table
	notes []string

	csvs map[int]string // generated subject files by size
	// results is a results JSONL file kept from an earlier scenario for
	// the postgres one, with resultsN lines.
	results  string
	resultsN int
}

func (b *bench) progress(format string, a ...any) {
	d := time.Since(b.start).Round(time.Second)
	fmt.Fprintf(b.log, "[%02d:%02d] %s\n", int(d.Minutes()), int(d.Seconds())%60, fmt.Sprintf(format, a...))
}

func (b *bench) note(format string, a ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, a...))
}

// pick returns full, or quick in a -quick run.
func (b *bench) pick(full, quick int) int {
	if b.quick {
		return quick
	}
	return full
}

var departments = []string{"Engineering", "Sales", "Marketing", "Finance", "Support", "Operations", "Legal"}

// csv returns a subjects file of n rows (user_id,id_type,department; ids
// shaped like GenAuth's, 24 hex digits: 65000000000000000000000001...),
// generating it on first use.
func (b *bench) csv(n int) (string, error) {
	if p, ok := b.csvs[n]; ok {
		return p, nil
	}
	p := filepath.Join(b.dir, fmt.Sprintf("subjects-%d.csv", n))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("user_id,id_type,department\n")
	line := make([]byte, 0, 64)
	for i := 1; i <= n; i++ {
		line = append(line[:0], "65"...)
		line = appendPadded(line, int64(i), idLen-2)
		line = append(line, ",user_id,"...)
		line = append(line, departments[i%len(departments)]...)
		line = append(line, '\n')
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	b.csvs[n] = p
	return p, nil
}

// auditRun is a finished `audit run`, its final log line parsed.
type auditRun struct {
	proc        *procResult
	unique      int64
	duration    time.Duration // the run's own: start to finish of the pipeline
	usersPerSec float64       // unique / duration
	requests    int64
	retries     int64
	throttled   int64
}

// runAudit runs `audit run` against fake with the given extra variables
// (which win over the defaults here) and requires a complete run. expect
// is a generous guess of its duration; the child gets three times that plus
// a minute.
func (b *bench) runAudit(ctx context.Context, fake *fakeAPI, expect time.Duration, vars ...string) (*auditRun, error) {
	env := childEnv(append([]string{
		"GENAUTH_HOST=" + fake.URL,
		"GENAUTH_ACCESS_KEY_ID=" + fakePoolID,
		"GENAUTH_ACCESS_KEY_SECRET=" + fakeSecret,
		"AUDIT_LOG_FORMAT=json",
		"AUDIT_PROGRESS=never",
		"AUDIT_RATE=0",
	}, vars...)...)
	p, err := runChild(ctx, b.bin, []string{"run"}, env, 3*expect+time.Minute)
	if err != nil {
		if p != nil {
			return nil, fmt.Errorf("%w (%s)", err, p.describe())
		}
		return nil, err
	}
	m, ok := p.logLine("audit finished", "audit finished below policy", "audit incomplete")
	if !ok {
		return nil, fmt.Errorf("audit run: no final log line; %s", p.describe())
	}
	if m["msg"] != "audit finished" || p.ExitCode != 0 {
		return nil, fmt.Errorf("audit run: %v, exit code %d; %s", m["msg"], p.ExitCode, p.describe())
	}
	r := &auditRun{
		proc:      p,
		unique:    int64(num(m["unique"])),
		requests:  int64(num(m["requests"])),
		retries:   int64(num(m["retries"])),
		throttled: int64(num(m["throttled"])),
	}
	ds, _ := m["duration"].(string)
	if r.duration, err = time.ParseDuration(ds); err != nil || r.duration <= 0 {
		return nil, fmt.Errorf("audit run: final log line: duration %q", ds)
	}
	r.usersPerSec = float64(r.unique) / r.duration.Seconds()
	return r, nil
}

// runReports is the benchmark's standard run: n subjects of csv at
// concurrency c, zero latency, to out.xlsx, out.html and out.jsonl; vars as
// for runAudit.
func (b *bench) runReports(ctx context.Context, fake *fakeAPI, csv string, n int, out string, c int, vars ...string) (*auditRun, error) {
	return b.runAudit(ctx, fake, time.Duration(n/500)*time.Second, append([]string{
		"AUDIT_SOURCE=" + csv,
		"AUDIT_OUTPUT=" + out + ".xlsx," + out + ".html," + out + ".jsonl",
		"AUDIT_CONCURRENCY=" + strconv.Itoa(c),
	}, vars...)...)
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// withFake runs fn against a fresh fake API with the given faults.
func (b *bench) withFake(ctx context.Context, faults string, fn func(*fakeAPI) error) error {
	f, err := startFake(ctx, b.bin, faults)
	if err != nil {
		return err
	}
	defer f.Stop()
	return fn(f)
}

// overhead: end-to-end users/s against a bare HTTP loop, zero latency.
//
// Three end-to-end runs interleave with four bare loops (B E B E B E B),
// each on distinct ids. Each run is compared with the mean of the bare
// loops just before and after it, and the median of the three ratios is
// judged: on a shared machine one load spike moves one ratio, not the
// median, and a run is never compared with a ceiling measured in a quieter
// minute than its own. The CPU time per request of client and fake is also
// reported: on a CPU-bound machine throughput follows it.
func (b *bench) overhead(ctx context.Context) error {
	const rounds = 3
	n, c := b.pick(100_000, 20_000), 16
	csv, err := b.csv(n)
	if err != nil {
		return err
	}
	return b.withFake(ctx, "", func(fake *fakeAPI) error {
		type bareRun struct {
			bareResult
			fake time.Duration
		}
		type e2eRun struct {
			*auditRun
			fake time.Duration
		}
		var (
			bares []bareRun
			runs  []e2eRun
		)
		runBare := func() error {
			b.progress("overhead: bare HTTP loop %d, %d requests, C=%d (load average %s)", len(bares)+1, n, c, loadAvg())
			f0 := fake.CPU()
			// Ids 66…, 67…: distinct from the run's 65… and from each other.
			r, err := bareLoop(ctx, fake.URL, fakePoolID, fakeSecret, c, n, strconv.Itoa(66+len(bares)))
			if err != nil {
				return err
			}
			br := bareRun{r, fake.CPU() - f0}
			bares = append(bares, br)
			b.progress("overhead: bare %.0f req/s in %s (client CPU %s, fake CPU %s)", r.RPS(), r.Duration.Round(time.Millisecond), r.CPU.Round(time.Millisecond), br.fake.Round(time.Millisecond))
			return nil
		}
		runE2E := func() error {
			b.progress("overhead: audit run %d, %d subjects, C=%d, XLSX+HTML+JSONL (load average %s)", len(runs)+1, n, c, loadAvg())
			out := filepath.Join(b.dir, fmt.Sprintf("overhead-%d", len(runs)+1))
			f0 := fake.CPU()
			r, err := b.runReports(ctx, fake, csv, n, out, c)
			if err != nil {
				return err
			}
			run := e2eRun{r, fake.CPU() - f0}
			runs = append(runs, run)
			if len(runs) == 1 {
				b.keepResults(out+".jsonl", n)
			}
			removeOutputs(out)
			b.progress("overhead: end-to-end %.0f users/s in %s (process CPU %s, fake CPU %s)", r.usersPerSec, r.duration, r.proc.CPU().Round(time.Millisecond), run.fake.Round(time.Millisecond))
			return nil
		}
		if err := runBare(); err != nil {
			return err
		}
		for range rounds {
			if err := runE2E(); err != nil {
				return err
			}
			if err := runBare(); err != nil {
				return err
			}
		}

		var ratios, wallRatios, cpuRatios []float64
		for i, r := range runs {
			before, after := bares[i], bares[i+1]
			rps := (before.RPS() + after.RPS()) / 2
			bareCPU := (perReqF(before.CPU+before.fake, n) + perReqF(after.CPU+after.fake, n)) / 2
			e2eCPU := perReqF(r.proc.CPU()+r.fake, n)
			ratios = append(ratios, r.usersPerSec/rps)
			wallRatios = append(wallRatios, float64(n)/r.proc.Wall.Seconds()/rps)
			cpuRatios = append(cpuRatios, bareCPU/e2eCPU)
		}
		for i, br := range bares {
			b.tab.add(row{
				Scenario: fmt.Sprintf("overhead: bare HTTP loop %d", i+1),
				Params:   fmt.Sprintf("zero latency, C=%d, N=%s distinct ids, keep-alive, body discarded", c, thousands(n)),
				Measured: fmt.Sprintf("%s req/s (%.1f s; CPU/req: loop %s, fake %s)", thousands(int(br.RPS())), br.Duration.Seconds(),
					perReq(br.CPU, n), perReq(br.fake, n)),
				Result: resInfo,
			})
			if i < len(runs) {
				r := runs[i]
				b.tab.add(row{
					Scenario: fmt.Sprintf("overhead: end-to-end %d", i+1),
					Params:   fmt.Sprintf("audit run, CSV → XLSX+HTML+JSONL, C=%d, rate 0, same N", c),
					Measured: fmt.Sprintf("%s users/s (run %.1f s, process %.1f s; CPU/user: audit %s, fake %s; peak RSS %.0f MiB); ratio %.2f",
						thousands(int(r.usersPerSec)), r.duration.Seconds(), r.proc.Wall.Seconds(),
						perReq(r.proc.CPU(), n), perReq(r.fake, n), r.proc.MaxRSSMiB(), ratios[i]),
					Result: resInfo,
				})
			}
		}
		ratio := median(ratios)
		b.tab.add(row{
			Scenario: "overhead: ratio",
			Params:   "end-to-end users/s (run duration) ÷ the mean of the bare loops before and after it; median of the runs",
			Measured: fmt.Sprintf("%.2f (%s)", ratio, joinRatios(ratios)),
			Target:   "≥ 0.80",
			Result:   passIf(ratio >= 0.80),
		})
		b.tab.add(row{
			Scenario: "overhead: ratio by process time",
			Params:   "the same with the audit process's wall time (start-up, token, closing the files included); median",
			Measured: fmt.Sprintf("%.2f (%s)", median(wallRatios), joinRatios(wallRatios)),
			Result:   resInfo,
		})
		b.tab.add(row{
			Scenario: "overhead: CPU cost ratio",
			Params:   "(loop + fake) CPU per request ÷ (audit + fake) CPU per user; the throughput ratio on a CPU-bound, otherwise idle machine; median",
			Measured: fmt.Sprintf("%.2f (%s)", median(cpuRatios), joinRatios(cpuRatios)),
			Result:   resInfo,
		})
		return nil
	})
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func joinRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// latency: throughput against C/L with an API latency L.
func (b *bench) latency(ctx context.Context) error {
	const l = 50 * time.Millisecond
	secs := b.pick(15, 5)
	for _, c := range []int{8, 32} {
		ideal := float64(c) / l.Seconds()
		n := int(ideal) * secs
		csv, err := b.csv(n)
		if err != nil {
			return err
		}
		err = b.withFake(ctx, "latency="+l.String(), func(fake *fakeAPI) error {
			b.progress("latency: L=%s C=%d N=%d (about %d s)", l, c, n, secs)
			out := filepath.Join(b.dir, fmt.Sprintf("latency-%d", c))
			r, err := b.runAudit(ctx, fake, time.Duration(secs)*time.Second,
				"AUDIT_SOURCE="+csv, "AUDIT_OUTPUT="+out+".jsonl", "AUDIT_CONCURRENCY="+strconv.Itoa(c))
			if err != nil {
				return err
			}
			removeOutputs(out)
			ratio := r.usersPerSec / ideal
			b.tab.add(row{
				Scenario: "latency",
				Params:   fmt.Sprintf("L=%s, C=%d, N=%s, rate 0, CSV → JSONL", l, c, thousands(n)),
				Measured: fmt.Sprintf("%.1f users/s = %.3f × C/L (%.0f/s; run %.1f s)", r.usersPerSec, ratio, ideal, r.duration.Seconds()),
				Target:   "≥ 0.90 × C/L",
				Result:   passIf(ratio >= 0.90),
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("concurrency C=%d: %w", c, err)
		}
	}
	return nil
}

// rate: achieved rate against AUDIT_RATE.
func (b *bench) rate(ctx context.Context) error {
	const (
		c = 32
		l = 10 * time.Millisecond
	)
	secs := b.pick(20, 8)
	b.note("rate: achieved = subjects ÷ the run's duration; N requests span N−1 intervals after an initial burst of max(1, R/50), so a finite run reads a little above R (by about 1/N); judged at two decimals")
	for _, rate := range []int{20, 100} {
		n := rate * secs
		csv, err := b.csv(n)
		if err != nil {
			return err
		}
		err = b.withFake(ctx, "latency="+l.String(), func(fake *fakeAPI) error {
			b.progress("rate: R=%d C=%d L=%s N=%d (about %d s)", rate, c, l, n, secs)
			out := filepath.Join(b.dir, fmt.Sprintf("rate-%d", rate))
			r, err := b.runAudit(ctx, fake, time.Duration(secs)*time.Second,
				"AUDIT_SOURCE="+csv, "AUDIT_OUTPUT="+out+".jsonl",
				"AUDIT_CONCURRENCY="+strconv.Itoa(c), "AUDIT_RATE="+strconv.Itoa(rate))
			if err != nil {
				return err
			}
			removeOutputs(out)
			ratio := r.usersPerSec / float64(rate)
			// Judged at two decimals: the limiter's initial burst (max(1, R/50)
			// requests) may put a finite run a hair above R.
			rounded := math.Round(ratio*100) / 100
			b.tab.add(row{
				Scenario: "rate",
				Params:   fmt.Sprintf("AUDIT_RATE=%d, C=%d, L=%s, N=%s, CSV → JSONL", rate, c, l, thousands(n)),
				Measured: fmt.Sprintf("%.2f users/s = %.3f × R (run %.1f s, %d requests, %d throttled)", r.usersPerSec, ratio, r.duration.Seconds(), r.requests, r.throttled),
				Target:   "0.95–1.00 × R",
				Result:   passIf(rounded >= 0.95 && rounded <= 1.00),
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("rate R=%d: %w", rate, err)
		}
	}
	return nil
}

// memory: peak RSS of a run with XLSX + HTML + JSONL at two sizes.
func (b *bench) memory(ctx context.Context) error {
	const c = 32
	small, large := b.pick(100_000, 20_000), b.pick(1_000_000, 100_000)
	type point struct {
		n                int
		r                *auditRun
		xlsx, html, json int64
	}
	var pts []point
	for _, n := range []int{small, large} {
		csv, err := b.csv(n)
		if err != nil {
			return err
		}
		err = b.withFake(ctx, "", func(fake *fakeAPI) error {
			b.progress("memory: N=%d C=%d, XLSX+HTML+JSONL", n, c)
			out := filepath.Join(b.dir, fmt.Sprintf("memory-%d", n))
			r, err := b.runReports(ctx, fake, csv, n, out, c)
			if err != nil {
				return err
			}
			p := point{n: n, r: r, xlsx: fileSize(out + ".xlsx"), html: fileSize(out + ".html"), json: fileSize(out + ".jsonl")}
			if n == small {
				b.keepResults(out+".jsonl", n)
			}
			removeOutputs(out)
			b.progress("memory: N=%d peak RSS %.1f MiB, %.0f users/s", n, r.proc.MaxRSSMiB(), r.usersPerSec)
			pts = append(pts, p)
			b.tab.add(row{
				Scenario: "memory",
				Params:   fmt.Sprintf("N=%s, C=%d, zero latency, rate 0, CSV → XLSX+HTML+JSONL", thousands(n), c),
				Measured: fmt.Sprintf("peak RSS %.1f MiB; process %.1f s (%s users/s); XLSX %s, HTML %s, JSONL %s",
					r.proc.MaxRSSMiB(), r.proc.Wall.Seconds(), thousands(int(r.usersPerSec)), mb(p.xlsx), mb(p.html), mb(p.json)),
				Result: resInfo,
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("memory at N=%d: %w", n, err)
		}
	}
	lo, hi := pts[0], pts[1]
	rss := hi.r.proc.MaxRSSMiB()
	b.tab.add(row{
		Scenario: "memory: peak RSS",
		Params:   "N=" + thousands(hi.n),
		Measured: fmt.Sprintf("%.1f MiB", rss),
		Target:   "< 256 MiB",
		Result:   passIf(rss < 256),
	})
	ratio := rss / lo.r.proc.MaxRSSMiB()
	b.tab.add(row{
		Scenario: "memory: growth",
		Params:   fmt.Sprintf("peak RSS N=%s ÷ N=%s", thousands(hi.n), thousands(lo.n)),
		Measured: fmt.Sprintf("%.2f (%.1f ÷ %.1f MiB)", ratio, rss, lo.r.proc.MaxRSSMiB()),
		Target:   "≤ 1.5",
		Result:   passIf(ratio <= 1.5),
	})
	b.tab.add(row{
		Scenario: "memory: HTML size",
		Params:   "N=" + thousands(hi.n),
		Measured: mb(hi.html),
		Target:   "< 5 MB",
		Result:   passIf(hi.html > 0 && hi.html < 5_000_000),
	})
	b.tab.add(row{
		Scenario: "memory: XLSX size",
		Params:   "N=" + thousands(hi.n),
		Measured: mb(hi.xlsx),
		Result:   resInfo,
	})
	return nil
}

// keepResults keeps a results JSONL file for the postgres scenario,
// preferring the smallest one of at least 20,000 lines.
func (b *bench) keepResults(path string, n int) {
	if b.results != "" && (b.resultsN <= n || n < 20_000) {
		return
	}
	keep := filepath.Join(b.dir, fmt.Sprintf("results-%d.jsonl", n))
	if err := os.Rename(path, keep); err != nil {
		return
	}
	if b.results != "" {
		os.Remove(b.results)
	}
	b.results, b.resultsN = keep, n
}

// removeOutputs deletes the outputs of a run (base + each extension).
func removeOutputs(base string) {
	for _, ext := range []string{".xlsx", ".html", ".jsonl", ".csv"} {
		os.Remove(base + ext)
		os.Remove(base + ext + ".incomplete")
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func passIf(ok bool) string {
	if ok {
		return resPass
	}
	return resFail
}

// mb formats a byte count in decimal megabytes.
func mb(n int64) string {
	if n == 0 {
		return "missing"
	}
	return fmt.Sprintf("%.2f MB", float64(n)/1e6)
}

// perReqF is d / n in microseconds.
func perReqF(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / float64(max(n, 1))
}

// perReq formats d / n in microseconds.
func perReq(d time.Duration, n int) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n))
}

// thousands formats n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// baseline measures the diff against a baseline (SPEC 13): for N subjects,
// a first run writes its JSON Lines, then a second run of the same subjects
// (XLSX + HTML + JSONL) compares with that file; its peak RSS at a million
// must stay under 256 MiB and within 1.5 times the figure at 100,000.
func (b *bench) baseline(ctx context.Context) error {
	const c = 32
	small, large := b.pick(100_000, 20_000), b.pick(1_000_000, 100_000)
	rss := map[int]float64{}
	for _, n := range []int{small, large} {
		csv, err := b.csv(n)
		if err != nil {
			return err
		}
		err = b.withFake(ctx, "", func(fake *fakeAPI) error {
			base := filepath.Join(b.dir, fmt.Sprintf("baseline-%d.jsonl", n))
			b.progress("baseline: N=%d, writing the baseline", n)
			if _, err := b.runAudit(ctx, fake, time.Duration(n/500)*time.Second,
				"AUDIT_SOURCE="+csv, "AUDIT_OUTPUT="+base, "AUDIT_CONCURRENCY="+strconv.Itoa(c)); err != nil {
				return err
			}
			out := filepath.Join(b.dir, fmt.Sprintf("diff-%d", n))
			b.progress("baseline: N=%d, the run compared with it", n)
			r, err := b.runReports(ctx, fake, csv, n, out, c, "AUDIT_BASELINE="+base)
			if err != nil {
				return err
			}
			removeOutputs(out)
			removeOutputs(base[:len(base)-len(".jsonl")])
			rss[n] = r.proc.MaxRSSMiB()
			b.progress("baseline: N=%d peak RSS %.1f MiB, %.1f s", n, rss[n], r.proc.Wall.Seconds())
			b.tab.add(row{
				Scenario: "baseline diff",
				Params:   fmt.Sprintf("N=%s against a %s-subject JSONL baseline, C=%d, CSV → XLSX+HTML+JSONL", thousands(n), thousands(n), c),
				Measured: fmt.Sprintf("peak RSS %.1f MiB; process %.1f s (%s users/s)", rss[n], r.proc.Wall.Seconds(), thousands(int(r.usersPerSec))),
				Result:   resInfo,
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("baseline at N=%d: %w", n, err)
		}
	}
	b.tab.add(row{
		Scenario: "baseline diff: peak RSS",
		Params:   "N=" + thousands(large),
		Measured: fmt.Sprintf("%.1f MiB", rss[large]),
		Target:   "< 256 MiB",
		Result:   passIf(rss[large] < 256),
	})
	ratio := rss[large] / rss[small]
	b.tab.add(row{
		Scenario: "baseline diff: growth",
		Params:   fmt.Sprintf("peak RSS N=%s ÷ N=%s", thousands(large), thousands(small)),
		Measured: fmt.Sprintf("%.2f (%.1f ÷ %.1f MiB)", ratio, rss[large], rss[small]),
		Target:   "≤ 1.5",
		Result:   passIf(ratio <= 1.5),
	})
	return nil
}

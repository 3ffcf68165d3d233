package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StoredCounts is implemented by result sources that know the stored
// run's counts that results alone cannot tell.
type StoredCounts interface {
	// Counts returns rows read, duplicate rows, rows left to other shards
	// and when the run finished (zero if it did not).
	Counts() (rowsRead, duplicates, otherShard int64, finishedAt time.Time)
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Policy re-classifies every result; the stored run's own policy wins
	// when it names one.
	Policy Policy
	// RunID, when not empty, renames the run in the outputs (a migration
	// under a new id).
	RunID string
	// GroupBy, when not empty, replaces the stored run's breakdown
	// attribute (a JSON Lines file does not record one).
	GroupBy string
	// MaxUnknown is as in Options.
	MaxUnknown int64
	// Exceptions, when set, judges every result against a register (given
	// again, or rebuilt from the stored results) as Options.Exceptions.
	Exceptions ExceptionJudge
	// Baseline and Trend are as in Options. Without a Baseline every result
	// keeps the change recorded with it.
	Baseline *Baseline
	Trend    []TrendPoint
	// Evidence is as in RunInfo: this rendering's own manifest.
	Evidence *Evidence
}

// Replay renders stored results into sinks without calling the API (`audit
// report`): every result is re-classified, written in the stored order,
// and summed into the summary the sinks are closed with. The summary is
// complete only when the stored run was and every result was read.
func Replay(ctx context.Context, rs ResultSource, sinks []Sink, opt ReplayOptions) (Summary, error) {
	run := rs.Run()
	if opt.RunID != "" {
		run.RunID = opt.RunID
	}
	if opt.GroupBy != "" {
		run.GroupBy = opt.GroupBy
	}
	if opt.Evidence != nil {
		run.Evidence = opt.Evidence
	}
	if opt.Exceptions != nil {
		run.Exceptions = true
	}
	policy := opt.Policy
	if run.Policy != "" {
		policy = run.Policy
	}
	if policy == "" {
		policy = PolicyAny
	}
	run.Policy = policy
	r := &runner{opt: Options{Policy: policy, MaxUnknown: opt.MaxUnknown, Exceptions: opt.Exceptions, Now: time.Now, Progress: &Progress{},
		Baseline: opt.Baseline, Trend: opt.Trend}, sinks: sinks,
		sum: Summary{Run: run}, failed: make([]bool, len(sinks)), replay: true}
	r.startChanges()
	r.open(ctx)
	var n int64
	for r.stop == nil {
		if err := ctx.Err(); err != nil {
			r.fail(interrupted(ctx))
			break
		}
		res, err := rs.Next(ctx)
		if errors.Is(err, EOF) {
			break
		}
		if err != nil {
			r.fail(fmt.Errorf("reading stored results: %w", err))
			break
		}
		n++
		if res.CheckedAt.After(r.sum.FinishedAt) {
			r.sum.FinishedAt = res.CheckedAt
		}
		res.Classify(policy)
		r.deliver(res, nil, func() {})
	}
	r.sum.RowsRead = n
	if sc, ok := rs.(StoredCounts); ok {
		rows, dups, other, fin := sc.Counts()
		r.sum.RowsRead, r.sum.Duplicates, r.sum.OtherShard = max(rows, n), dups, other
		if !fin.IsZero() {
			r.sum.FinishedAt = fin
		}
	}
	if complete, why := rs.Stored(); !complete && r.stop == nil {
		if why == "" {
			why = "the stored run is not complete"
		}
		r.fail(notFailed{why})
	}
	// close() stamps FinishedAt with the clock; keep the stored time.
	fin := r.sum.FinishedAt
	r.opt.Now = func() time.Time {
		if fin.IsZero() {
			return time.Now()
		}
		return fin
	}
	return r.close(ctx)
}

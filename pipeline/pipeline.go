package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc/stream"

	"github.com/mfa-audit/mfa-audit/genauth"
)

// MFAClient asks the API for one subject's MFA state. *genauth.Client is
// one; it must be safe for concurrent use, bound its own requests in flight,
// and retry what can be retried. A *genauth.Error classifies failures.
type MFAClient interface {
	GetUserMFAInfo(ctx context.Context, idType, userID string) (genauth.MFAInfo, error)
}

// Options configure Run.
type Options struct {
	Client        MFAClient
	Policy        Policy // default PolicyAny
	DefaultIDType string // for subjects without one; default "user_id"
	// Window is how many subjects may be in the pipeline at once, between
	// the source and the sinks (asked, waiting in backoff, or answered but
	// held back to keep input order). It bounds memory and how far the
	// source is read ahead. Default 256. The API concurrency is the
	// Client's own, smaller, limit.
	Window int
	// MaxUnknown is how many subjects may end with OutcomeError before a
	// complete run counts as failed (AUDIT_MAX_UNKNOWN); negative: any.
	MaxUnknown int64
	// Prior, when set, supplies final results of an earlier attempt of the
	// same run; those subjects are not asked again.
	Prior Prior
	// Exceptions, when set, applies the exceptions register to every
	// result (SPEC 14); the summary then carries its report.
	Exceptions ExceptionJudge
	Progress   *Progress // optional live counters for a progress display *Progress // optional live counters for a progress display
	// OnDedupeGrow, when set, is told the memory of the de-duplication
	// table as it grows (the old and the new table while it grows, then
	// the new one): the one part of a run whose memory grows with the
	// number of subjects (12 bytes a slot). A source that knows its
	// length (Total) has the table grow once, to that size.
	// Subjects the Baseline holds are not in it (Baseline.Bytes counts
	// what remembers them).
	OnDedupeGrow func(bytes int64)
	// Baseline, when set, is the earlier run each result is compared with
	// (Result.Change); without one NonCompliantSince starts at this run.
	Baseline *Baseline
	// Trend holds the earlier complete runs of the same source, oldest
	// first; the summary's Trend adds this run when it is complete.
	Trend  []TrendPoint
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
}

// Progress are live counters a progress display may read while Run works.
type Progress struct {
	RowsRead atomic.Int64 // rows taken from the source
	Done     atomic.Int64 // results written to the sinks
	Unknown  atomic.Int64 // results with OutcomeError
	Resumed  atomic.Int64 // results taken from Prior
	Skipped  atomic.Int64 // rows that need no answer: repeats and other shards' subjects
}

// ErrCredentials is wrapped by Run's error when the API refused the
// credentials mid-run.
var ErrCredentials = errors.New("the API refused the credentials")

// Run streams subjects from src through the API into sinks and returns
// the summary.
//
// Subjects are normalized, filtered to run.Shard, de-duplicated by
// (id_type, user_id), and asked concurrently; results reach every sink in
// input order from one goroutine. Run stops asking when ctx is cancelled,
// when a sink fails, when the source fails or when the credentials are
// refused; it still writes every result already answered and closes every
// sink with a summary whose Complete is false and Incomplete says why. The
// returned error is nil for a complete run, and otherwise names the cause
// (ctx.Err(), the source's error, the sink's error, ErrCredentials).
func Run(ctx context.Context, src Source, sinks []Sink, run RunInfo, opt Options) (Summary, error) {
	if opt.Policy == "" {
		opt.Policy = PolicyAny
	}
	if opt.DefaultIDType == "" {
		opt.DefaultIDType = "user_id"
	}
	if opt.Window <= 0 {
		opt.Window = 256
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Progress == nil {
		opt.Progress = &Progress{}
	}
	run.AttrNames = src.AttrNames()
	run.Policy = opt.Policy
	if run.Source == "" {
		run.Source = src.Describe()
	}
	r := &runner{opt: opt, sinks: sinks, sum: Summary{Run: run}, failed: make([]bool, len(sinks))}
	r.startChanges()
	r.open(ctx)
	if r.stop == nil {
		r.askAll(ctx, src)
	}
	return r.close(ctx)
}

// runner is the state of one Run. Fields below mu-free comment are touched
// only by the goroutine running callbacks (and by Run before and after).
type runner struct {
	opt    Options
	sinks  []Sink
	failed []bool // sink i failed; no more writes to it

	sum  Summary
	stop error // first reason to stop asking; nil while all is well
	// stopped is set (from callbacks) when asking must end early.
	stopped atomic.Bool
	// replay marks a Replay: results keep their recorded change.
	replay bool

	// systemic watches the first answers (from the workers); cancelAsk
	// stops asking when it finds the run doomed.
	systemic  systemic
	cancelAsk context.CancelFunc
}

func (r *runner) open(ctx context.Context) {
	for i, s := range r.sinks {
		if err := s.Open(ctx, r.sum.Run); err != nil {
			r.failed[i] = true
			r.fail(fmt.Errorf("opening output: %w", err))
		}
	}
}

// fail records the first reason to stop.
func (r *runner) fail(err error) {
	if r.stop == nil {
		r.stop = err
	}
	r.stopped.Store(true)
}

// askAll reads the source and asks for every new subject through a stream
// whose callbacks run in submission order on one goroutine.
func (r *runner) askAll(ctx context.Context, src Source) {
	askCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.cancelAsk = cancel
	st := stream.New().WithMaxGoroutines(r.opt.Window)
	dedup := newDedupe(r.opt.Baseline, r.opt.OnDedupeGrow, func() int64 {
		// This shard's share of the rows (the source counts them all).
		return src.Total() / int64(max(r.sum.Run.Shard.Count, 1))
	})
	var srcErr error
	atEOF := false
	for !r.stopped.Load() && askCtx.Err() == nil {
		subj, err := src.Next(askCtx)
		if errors.Is(err, EOF) {
			atEOF = true
			break
		}
		if err != nil {
			if askCtx.Err() == nil {
				srcErr = fmt.Errorf("reading %s: %w", src.Describe(), err)
			}
			break
		}
		r.opt.Progress.RowsRead.Add(1)
		r.sum.RowsRead++ // only this goroutine touches RowsRead, OtherShard, Duplicates while asking
		subj.Normalize(r.opt.DefaultIDType)
		k := subj.Key()
		if !r.sum.Run.Shard.Owns(k) {
			r.sum.OtherShard++
			r.opt.Progress.Skipped.Add(1)
			continue
		}
		if !dedup.add(k) {
			r.sum.Duplicates++
			r.opt.Progress.Skipped.Add(1)
			continue
		}
		st.Go(func() stream.Callback {
			res, err := r.ask(askCtx, subj)
			return func() { r.deliver(res, err, cancel) }
		})
	}
	// Collect the answers already asked for; stop asking if the reason to
	// stop is ours (ctx) or a callback's.
	st.Wait()
	if stop := r.systemic.result(); stop != nil {
		r.fail(stop)
		r.sum.Stopped = true
	}
	if srcErr != nil {
		r.fail(srcErr)
	}
	if rc, ok := src.(Reconciler); ok && atEOF {
		if err := rc.Reconcile(); err != nil {
			r.fail(notFailed{err.Error()})
		}
	}
	if ctx.Err() != nil {
		r.fail(interrupted(ctx))
	}
}

// errInterrupted marks a stop that is not a failure: a signal, or a stored
// run that was itself incomplete.
var errInterrupted = errors.New("interrupted")

// notFailed is a stop reason that reads as its message and is errInterrupted.
type notFailed struct{ msg string }

func (e notFailed) Error() string        { return e.msg }
func (e notFailed) Is(target error) bool { return target == errInterrupted }

func interrupted(ctx context.Context) error {
	return notFailed{"interrupted: " + context.Cause(ctx).Error()}
}

// ask produces the result of one new subject. It runs on a worker.
func (r *runner) ask(ctx context.Context, s Subject) (Result, error) {
	res := Result{UserID: s.UserID, IDType: s.IDType, Attrs: s.Attrs, Line: s.Line}
	if s.Invalid != "" {
		res.Outcome, res.Error, res.CheckedAt = OutcomeInvalid, s.Invalid, r.opt.Now()
		res.Classify(r.opt.Policy)
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if r.opt.Prior != nil {
		prior, found, err := r.opt.Prior.Lookup(ctx, s)
		if err != nil {
			return res, fmt.Errorf("looking up the earlier attempt of %s %q: %w", s.IDType, s.UserID, err)
		}
		if found {
			prior.Resumed = true
			prior.Attrs, prior.Line = s.Attrs, s.Line
			prior.Classify(r.opt.Policy)
			return prior, nil
		}
	}
	info, err := r.opt.Client.GetUserMFAInfo(ctx, s.IDType, s.UserID)
	res.CheckedAt = r.opt.Now()
	if err == nil {
		res.Outcome = OutcomeOK
		res.TOTP, res.Face, res.SMS, res.Email = info.TOTP, info.Face, info.SMS, info.Email
		res.RequestID, res.Attempts = info.RequestID, info.Attempts
		res.Classify(r.opt.Policy)
		r.observe(&res, nil)
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err() // not answered: dropped, the run is incomplete
	}
	res.Outcome, res.Error = OutcomeError, err.Error()
	if ge, ok := errors.AsType[*genauth.Error](err); ok {
		res.APICode, res.RequestID, res.Attempts = ge.APICode, ge.RequestID, ge.Attempts
		switch ge.Class {
		case genauth.ClassNotFound:
			res.Outcome = OutcomeNotFound
		case genauth.ClassInvalid:
			res.Outcome = OutcomeInvalid
		case genauth.ClassAuth:
			return res, fmt.Errorf("%w: %v", ErrCredentials, err)
		}
	}
	res.Classify(r.opt.Policy)
	r.observe(&res, err)
	return res, nil
}

// observe shows an API answer to the systemic-failure check, on the worker
// that got it, and stops asking at once when the check finds the run
// doomed: the answers still in flight are abandoned, those already
// answered are written.
func (r *runner) observe(res *Result, err error) {
	if stop := r.systemic.observe(res.IDType, res.UserID, res.Outcome, err); stop != nil {
		r.stopped.Store(true)
		r.cancelAsk()
	}
}

// deliver runs on the callback goroutine, in input order: it writes the
// result to every sink that has not failed and counts it. A result that
// came with an error was not answered; the error stops the run.
func (r *runner) deliver(res Result, err error, cancel context.CancelFunc) {
	if err != nil {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			r.fail(err)
			cancel()
		}
		return
	}
	if r.opt.Exceptions != nil {
		r.opt.Exceptions.Apply(&res)
	}
	r.compare(&res)
	for i, s := range r.sinks {
		if r.failed[i] {
			continue
		}
		if werr := s.Write(context.Background(), res); werr != nil {
			r.failed[i] = true
			r.fail(fmt.Errorf("writing output: %w", werr))
			cancel()
		}
	}
	r.sum.Add(&res)
	r.opt.Progress.Done.Add(1)
	if res.Outcome == OutcomeError {
		r.opt.Progress.Unknown.Add(1)
	}
	if res.Resumed {
		r.sum.Resumed++
		r.opt.Progress.Resumed.Add(1)
	}
}

// close finishes the summary and closes every sink with it.
func (r *runner) close(ctx context.Context) (Summary, error) {
	r.sum.FinishedAt = r.opt.Now()
	if r.opt.Exceptions != nil {
		r.sum.Exceptions = r.opt.Exceptions.Report()
	}
	r.sum.Complete = r.stop == nil
	if r.stop != nil {
		r.sum.Incomplete = r.stop.Error()
		r.sum.Failed = !errors.Is(r.stop, errInterrupted)
	} else if r.opt.MaxUnknown >= 0 && r.sum.Error > r.opt.MaxUnknown {
		r.sum.Failed = true
	}
	r.finishChanges()
	// Closing must happen even when ctx is cancelled: that is how the
	// answered results reach the files.
	cctx := context.WithoutCancel(ctx)
	err := r.stop
	for i, s := range r.sinks {
		if cerr := s.Close(cctx, r.sum); cerr != nil && !r.failed[i] {
			err = errors.Join(err, fmt.Errorf("closing output: %w", cerr))
		}
	}
	if err != nil && r.stop == nil {
		r.sum.Complete, r.sum.Failed = false, true
		r.sum.Incomplete = err.Error()
	}
	return r.sum, err
}

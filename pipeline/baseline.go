package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Change is how a subject changed since the baseline run (SPEC 13).
type Change string

// The change classes. For a result the first that applies wins, in the
// order unknown, joined, new_gap, fixed, weakened, strengthened, unchanged;
// left is for baseline subjects this run did not meet at all.
const (
	ChangeUnknown      Change = "unknown"      // not ok now, or error in the baseline
	ChangeJoined       Change = "joined"       // ok now; absent, not_found or invalid then
	ChangeNewGap       Change = "new_gap"      // compliant then, not now
	ChangeFixed        Change = "fixed"        // not compliant then, compliant now
	ChangeWeakened     Change = "weakened"     // compliant both times, strong then, weak now
	ChangeStrengthened Change = "strengthened" // weak then, strong now
	ChangeUnchanged    Change = "unchanged"
	ChangeLeft         Change = "left" // in the baseline, not met by this run
)

// ChangeClasses lists every class in the order reports show them: the
// findings first.
var ChangeClasses = []Change{
	ChangeNewGap, ChangeWeakened, ChangeUnknown, ChangeLeft, ChangeJoined,
	ChangeFixed, ChangeStrengthened, ChangeUnchanged,
}

func (c Change) index() int {
	for i, x := range ChangeClasses {
		if x == c {
			return i
		}
	}
	return -1
}

// ParseChange returns c as a Change, or an error for a word that is not one.
func ParseChange(c string) (Change, error) {
	if c == "" || Change(c).index() >= 0 {
		return Change(c), nil
	}
	return "", fmt.Errorf("change %q is not one of new_gap, weakened, unknown, left, joined, fixed, strengthened, unchanged", c)
}

// Day returns the date of t: midnight UTC; zero for the zero time.
func Day(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// SetNonCompliantSince sets r.NonCompliantSince for a run without a
// baseline: the day r was checked (else today) when r is non-compliant,
// zero otherwise.
func SetNonCompliantSince(r *Result, today time.Time) {
	r.NonCompliantSince = time.Time{}
	if r.Compliant != nil && !*r.Compliant {
		d := r.CheckedAt
		if d.IsZero() {
			d = today
		}
		r.NonCompliantSince = Day(d)
	}
}

// BaselineInfo names the run a run is compared with.
type BaselineInfo struct {
	RunID string // the baseline's run id
	File  string // the results file it was read from; "" for a stored run
	// DataAsOf is when the baseline's data were taken: its finish time, else
	// its latest checked_at.
	DataAsOf   time.Time
	Complete   bool
	Incomplete string // why the baseline is not complete
}

// Name is the file when the baseline is one, else "run <id>".
func (b BaselineInfo) Name() string {
	if b.File != "" {
		return b.File
	}
	return "run " + b.RunID
}

// ChangeSummary is the part of a Summary about change since the baseline.
type ChangeSummary struct {
	Baseline BaselineInfo
	// Recorded is true when the classes were read from stored results
	// without their baseline (audit report without AUDIT_BASELINE): the
	// baseline is unknown and left subjects are not counted.
	Recorded bool
	// Then are the baseline's counts under this run's policy (only the
	// subjects of this run's shard).
	Then    Counts
	byClass [8]int64
	base    *Baseline
}

// Count returns the number of subjects of class c (ChangeLeft included).
func (c *ChangeSummary) Count(class Change) int64 {
	if i := class.index(); i >= 0 {
		return c.byClass[i]
	}
	return 0
}

func (c *ChangeSummary) add(class Change) {
	if i := class.index(); i >= 0 {
		c.byClass[i]++
	}
}

// CoveragePoints is the coverage shown now less the coverage shown then,
// in tenths of a percentage point (so that the difference agrees with the
// two figures beside it); false when either is undefined.
func (c *ChangeSummary) CoveragePoints(now Counts) (int64, bool) {
	a, ok1 := now.CoverageShare().Tenths()
	b, ok2 := c.Then.CoverageShare().Tenths()
	return a - b, ok1 && ok2
}

// PointsText shows CoveragePoints: "+1.8 points", "-0.4 points", "0.0
// points", or NA.
func (c *ChangeSummary) PointsText(now Counts) string {
	d, ok := c.CoveragePoints(now)
	if !ok {
		return NA
	}
	sign := "+"
	switch {
	case d < 0:
		sign, d = "-", -d
	case d == 0:
		sign = ""
	}
	return sign + strconv.FormatInt(d/10, 10) + "." + strconv.FormatInt(d%10, 10) + " points"
}

// Left calls fn, in the baseline's order, for every subject of the
// baseline this run did not meet (with Change ChangeLeft, classified under
// this run's policy, BaselineMFA its level then). It reads the baseline
// again; with no baseline (or a Recorded one) it does nothing.
func (c *ChangeSummary) Left(ctx context.Context, fn func(Result) error) error {
	if c == nil || c.base == nil || c.Count(ChangeLeft) == 0 {
		return nil
	}
	return c.base.eachLeft(ctx, fn)
}

// Baseline is an earlier run loaded for comparison. It holds, per subject
// of the baseline, one slot of 15 bytes in an open-addressing table at
// most 80 % full (a 96-bit hash of the key, the outcome and factors in one
// byte, non_compliant_since in two): about 19 MB for a million subjects.
// A run compared with it de-duplicates the baseline's subjects over the
// same table (one bit a slot, see dedupe), so those subjects are not held
// twice. Compare is called from one goroutine (the pipeline's delivery);
// Left reads the baseline again.
type Baseline struct {
	info   BaselineInfo
	open   func(context.Context) (ResultSource, error)
	policy Policy
	shard  Shard
	then   Counts
	met    int64
	t      baselineTable
}

// Packed baseline state of one subject.
const (
	bOutcome = 3 // mask: bOK, bGone or bError
	bOK      = 1
	bGone    = 2 // not_found or invalid
	bError   = 3
	bTOTP    = 1 << 2
	bFace    = 1 << 3
	bSMS     = 1 << 4
	bEmail   = 1 << 5
	bMet     = 1 << 6 // this run met the subject
	bListed  = 1 << 7 // Left has listed it (a key stored twice is listed once)
)

// LoadBaseline reads the results of open's source, keeping what Compare
// needs for the subjects shard owns, classified under policy. sizeHint, if
// known, is the number of results (the table is sized once). info names
// the baseline; its RunID, DataAsOf and completeness are filled from the
// source when not set. open is called again by Left.
func LoadBaseline(ctx context.Context, info BaselineInfo, open func(context.Context) (ResultSource, error),
	policy Policy, shard Shard, sizeHint int) (*Baseline, error) {
	if policy == "" {
		policy = PolicyAny
	}
	b := &Baseline{info: info, open: open, policy: policy, shard: shard}
	rs, err := open(ctx)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	if st, ok := rs.(interface{ Summary() Summary }); ok && sizeHint <= 0 {
		sizeHint = int(st.Summary().Unique)
	}
	if shard.Count > 1 {
		sizeHint = sizeHint/shard.Count + sizeHint/(10*shard.Count) + 64
	}
	b.t.init(sizeHint)
	run := rs.Run()
	if b.info.RunID == "" {
		b.info.RunID = run.RunID
	}
	b.info.Complete, b.info.Incomplete = rs.Stored()
	var latest time.Time
	for {
		r, err := rs.Next(ctx)
		if errors.Is(err, EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if r.CheckedAt.After(latest) {
			latest = r.CheckedAt
		}
		k := r.Key()
		if !shard.Owns(k) {
			continue
		}
		r.Classify(policy)
		st := packState(&r)
		var since int32
		if d := r.NonCompliantSince; !d.IsZero() {
			since = dayNumber(d)
		} else if !r.CheckedAt.IsZero() {
			since = dayNumber(r.CheckedAt)
		}
		if b.t.insert(k, st, since) {
			b.then.Add(&r)
		}
	}
	if sc, ok := rs.(StoredCounts); ok {
		if _, _, _, fin := sc.Counts(); !fin.IsZero() {
			latest = fin
		}
	}
	if b.info.DataAsOf.IsZero() {
		b.info.DataAsOf = latest
	}
	return b, nil
}

// Info names the baseline.
func (b *Baseline) Info() BaselineInfo { return b.info }

// Bytes is the memory the baseline holds during a run: its table, and the
// bit a slot with which the run de-duplicates the baseline's subjects.
func (b *Baseline) Bytes() int64 { return b.t.bytes() + readBitsBytes(b.t.size()) }

// Len is the number of distinct baseline subjects this run's shard owns.
func (b *Baseline) Len() int { return b.t.n }

// newSummary starts the ChangeSummary of a run compared with b.
func (b *Baseline) newSummary() *ChangeSummary {
	return &ChangeSummary{Baseline: b.info, Then: b.then, base: b}
}

// finish counts the subjects left.
func (b *Baseline) finish(c *ChangeSummary) {
	c.byClass[ChangeLeft.index()] = int64(b.t.n) - b.met
}

// Compare sets r.Change, r.NonCompliantSince and r.BaselineMFA against the
// baseline and marks r's subject as met. r must be classified; today is
// the run's date, used when r has no checked_at.
func (b *Baseline) Compare(r *Result, today time.Time) {
	SetNonCompliantSince(r, today)
	i, found := b.t.find(r.Key())
	var st uint8
	var since int32
	if found {
		st, since = b.t.state[i], b.t.day(i)
		if st&bMet == 0 {
			b.t.state[i] |= bMet
			b.met++
		}
	}
	r.BaselineMFA = ""
	if found {
		r.BaselineMFA = stateMFA(st)
	}
	then := st & bOutcome
	thenCompliant := then == bOK && stateCompliant(st, b.policy)
	switch {
	case r.Outcome != OutcomeOK || then == bError:
		r.Change = ChangeUnknown
	case !found || then == bGone:
		r.Change = ChangeJoined
	default:
		now := r.Compliant != nil && *r.Compliant
		thenMFA := stateMFA(st)
		switch {
		case thenCompliant && !now:
			r.Change = ChangeNewGap
		case !thenCompliant && now:
			r.Change = ChangeFixed
		case thenCompliant && thenMFA == MFAStrong && r.MFA == MFAWeak:
			r.Change = ChangeWeakened
		case thenMFA == MFAWeak && r.MFA == MFAStrong:
			r.Change = ChangeStrengthened
		default:
			r.Change = ChangeUnchanged
		}
	}
	if !r.NonCompliantSince.IsZero() && then == bOK && !thenCompliant && since != 0 {
		r.NonCompliantSince = dayTime(since)
	}
}

// eachLeft reads the baseline again and calls fn for every subject not met.
func (b *Baseline) eachLeft(ctx context.Context, fn func(Result) error) error {
	for i := range b.t.state {
		b.t.state[i] &^= bListed
	}
	rs, err := b.open(ctx)
	if err != nil {
		return fmt.Errorf("reading the baseline %s again: %w", b.info.Name(), err)
	}
	defer rs.Close()
	for {
		r, err := rs.Next(ctx)
		if errors.Is(err, EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the baseline %s again: %w", b.info.Name(), err)
		}
		k := r.Key()
		if !b.shard.Owns(k) {
			continue
		}
		i, found := b.t.find(k)
		if !found || b.t.state[i]&(bMet|bListed) != 0 {
			continue
		}
		b.t.state[i] |= bListed
		r.Classify(b.policy)
		r.Change, r.BaselineMFA, r.Resumed = ChangeLeft, r.MFA, false
		if since := b.t.day(i); r.Compliant != nil && !*r.Compliant && since != 0 {
			r.NonCompliantSince = dayTime(since)
		} else {
			r.NonCompliantSince = time.Time{}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

func packState(r *Result) uint8 {
	var st uint8
	switch r.Outcome {
	case OutcomeOK:
		st = bOK
	case OutcomeNotFound, OutcomeInvalid:
		st = bGone
	default:
		st = bError
	}
	on := func(p *bool, bit uint8) {
		if p != nil && *p {
			st |= bit
		}
	}
	on(r.TOTP, bTOTP)
	on(r.Face, bFace)
	on(r.SMS, bSMS)
	on(r.Email, bEmail)
	return st
}

func stateMFA(st uint8) string {
	switch {
	case st&bOutcome != bOK:
		return MFAUnknown
	case st&(bTOTP|bFace) != 0:
		return MFAStrong
	case st&(bSMS|bEmail) != 0:
		return MFAWeak
	}
	return MFANone
}

// stateCompliant applies policy p to a packed state whose outcome is ok:
// the rule of Result.Classify.
func stateCompliant(st uint8, p Policy) bool {
	if p == PolicyStrong {
		return st&(bTOTP|bFace) != 0
	}
	return st&(bTOTP|bFace|bSMS|bEmail) != 0
}

// dayNumber is t's date as days since 1970-01-01, plus one (0 is no date).
func dayNumber(t time.Time) int32 {
	return int32(Day(t).Unix()/86400) + 1
}

func dayTime(n int32) time.Time {
	return time.Unix(int64(n-1)*86400, 0).UTC()
}

// TrendPoint is one complete run of the same source, for the trend chart.
type TrendPoint struct {
	RunID        string
	DataAsOf     time.Time // the run's finish time
	Coverage     float64   // the shown share as a fraction; NaN when undefined
	Completeness float64   // the shown share as a fraction; NaN when undefined
}

// fraction is a share's shown fraction, NaN when undefined.
func fraction(s Share) float64 {
	if f, ok := s.Fraction(); ok {
		return f
	}
	return math.NaN()
}

// MaxTrend is how many runs the trend shows, this one included.
const MaxTrend = 12

// startChanges prepares the change summary of a run with a baseline.
func (r *runner) startChanges() {
	if b := r.opt.Baseline; b != nil {
		r.sum.Changes = b.newSummary()
	}
}

// compare sets the change fields of res (on the delivery goroutine).
func (r *runner) compare(res *Result) {
	today := r.sum.Run.StartedAt
	if today.IsZero() {
		today = r.opt.Now()
	}
	if b := r.opt.Baseline; b != nil {
		b.Compare(res, today)
		return
	}
	if !r.replay {
		res.Change, res.BaselineMFA = "", ""
		SetNonCompliantSince(res, today)
		return
	}
	// A stored result keeps its recorded change; its date holds while it
	// is non-compliant under the policy applied now.
	if res.Compliant == nil || *res.Compliant {
		res.NonCompliantSince = time.Time{}
	} else if res.NonCompliantSince.IsZero() {
		SetNonCompliantSince(res, today)
	}
}

// finishChanges counts the baseline subjects left and adds this run to the
// trend when it is complete.
func (r *runner) finishChanges() {
	if b := r.opt.Baseline; b != nil && r.sum.Changes != nil {
		b.finish(r.sum.Changes)
	}
	trend := r.opt.Trend
	if r.sum.Complete && !r.sum.Failed {
		trend = append(trend[:len(trend):len(trend)], TrendPoint{
			RunID: r.sum.Run.RunID, DataAsOf: r.sum.FinishedAt,
			Coverage: fraction(r.sum.CoverageShare()), Completeness: fraction(r.sum.CompletenessShare()),
		})
	}
	if len(trend) > MaxTrend {
		trend = trend[len(trend)-MaxTrend:]
	}
	r.sum.Trend = trend
}

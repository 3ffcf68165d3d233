package exceptions

import (
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// DefaultWarnDays is AUDIT_EXCEPTION_WARN_DAYS's default.
const DefaultWarnDays = 30

// Judge applies a register to the results of one run (pipeline.ExceptionJudge).
//
// A result whose subject an entry names gets an Exception: state unneeded
// when the subject is compliant, expired when it is not and the run's date
// is past the entry's expiry (an entry is valid through its expires day,
// UTC), active otherwise. A subject that is not_found or invalid gets none:
// its entry names nobody that can be audited and is reported stale, like an
// entry naming no subject of the run; one whose MFA state is unknown
// (outcome error) gets none either, its entry is reported unknown.
//
// With shards, each shard judges only the entries whose subjects belong to
// it (the same hash as the subjects): an entry is stale for the shard that
// owns its subject and is not counted at all by the others, so the shards'
// counts add up to the whole run's.
type Judge struct {
	reg      *Register
	asOf     time.Time
	warnDays int
	shard    pipeline.Shard
	met      []met // by entry index
}

// met is what became of an entry's subject in the run.
type met struct {
	outcome   pipeline.Outcome
	mfa       string
	compliant *bool
}

var _ pipeline.ExceptionJudge = (*Judge)(nil)

// NewJudge judges reg's entries against the day of asOf (UTC): the run's
// date. warnDays is AUDIT_EXCEPTION_WARN_DAYS; shard the run's shard (the
// zero value: all entries).
func NewJudge(reg *Register, asOf time.Time, warnDays int, shard pipeline.Shard) *Judge {
	return &Judge{reg: reg, asOf: Day(asOf), warnDays: warnDays, shard: shard, met: make([]met, len(reg.Entries))}
}

// Day is t's date at UTC midnight.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Apply sets r.Exception from the entry naming r's subject, if any.
func (j *Judge) Apply(r *pipeline.Result) {
	r.Exception = nil
	i, ok := j.reg.byKey[r.Key()]
	if !ok {
		return
	}
	e := &j.reg.Entries[i]
	j.met[i] = met{outcome: r.Outcome, mfa: r.MFA, compliant: r.Compliant}
	if state := resultState(r, e.Expires, j.asOf); state != "" {
		r.Exception = &pipeline.Exception{
			State: state, Reason: e.Reason, ApprovedBy: e.ApprovedBy, Expires: e.ExpiresText(), Ticket: e.Ticket,
		}
	}
}

// resultState is the state of an exception for r: "" when r's outcome
// leaves nothing to judge.
func resultState(r *pipeline.Result, expires, asOf time.Time) string {
	switch {
	case r.Outcome != pipeline.OutcomeOK || r.Compliant == nil:
		return ""
	case *r.Compliant:
		return pipeline.ExceptionUnneeded
	case asOf.After(expires):
		return pipeline.ExceptionExpired
	}
	return pipeline.ExceptionActive
}

// entryState is the state of an entry on the Exceptions sheet.
func entryState(m met, expires, asOf time.Time, warnDays int) string {
	switch m.outcome {
	case "", pipeline.OutcomeNotFound, pipeline.OutcomeInvalid:
		return pipeline.ExceptionStale
	case pipeline.OutcomeError:
		return pipeline.ExceptionUnknown
	}
	r := pipeline.Result{Outcome: m.outcome, Compliant: m.compliant}
	s := resultState(&r, expires, asOf)
	if s == pipeline.ExceptionActive && !expires.After(asOf.AddDate(0, 0, warnDays)) {
		return pipeline.ExceptionExpiring
	}
	if s == "" {
		return pipeline.ExceptionUnknown
	}
	return s
}

// Report lists the entries of this shard with their final states.
func (j *Judge) Report() *pipeline.ExceptionReport {
	rep := &pipeline.ExceptionReport{Register: j.reg.Name, SHA256: j.reg.SHA256, AsOf: j.asOf, WarnDays: j.warnDays}
	for i := range j.reg.Entries {
		e := &j.reg.Entries[i]
		if !j.shard.Owns(e.key) {
			rep.OtherShard++
			continue
		}
		m := j.met[i]
		rep.Entries = append(rep.Entries, pipeline.ExceptionEntry{
			Line: e.Line, IDType: e.IDType, UserID: e.UserID, Reason: e.Reason, ApprovedBy: e.ApprovedBy,
			Expires: e.ExpiresText(), Ticket: e.Ticket,
			State:   entryState(m, e.Expires, j.asOf, j.warnDays),
			Outcome: m.outcome, MFA: m.mfa, Compliant: m.compliant,
		})
	}
	count(rep)
	return rep
}

func count(rep *pipeline.ExceptionReport) {
	for _, e := range rep.Entries {
		switch e.State {
		case pipeline.ExceptionActive:
			rep.Active++
		case pipeline.ExceptionExpiring:
			rep.Active++
			rep.Expiring++
		case pipeline.ExceptionExpired:
			rep.Expired++
		case pipeline.ExceptionUnneeded:
			rep.Unneeded++
		case pipeline.ExceptionStale:
			rep.Stale++
		case pipeline.ExceptionUnknown:
			rep.Unknown++
		}
	}
}

// Stored re-judges the exceptions that stored results carry, for `audit
// report` without a register: each result's exception is judged again
// against the run's date and its (re-classified) compliance. Entries that
// named no stored subject were not stored, so stale entries are not known;
// give the register again (AUDIT_EXCEPTIONS) to list them.
type Stored struct {
	asOf     time.Time
	warnDays int
	rep      pipeline.ExceptionReport
	seen     bool
}

var _ pipeline.ExceptionJudge = (*Stored)(nil)

// NewStored judges stored exceptions against the day of asOf (UTC).
func NewStored(asOf time.Time, warnDays int) *Stored {
	return &Stored{asOf: Day(asOf), warnDays: warnDays}
}

// Apply re-judges r.Exception, if any.
func (s *Stored) Apply(r *pipeline.Result) {
	x := r.Exception
	if x == nil {
		return
	}
	s.seen = true
	expires, err := time.Parse(DateLayout, x.Expires)
	m := met{outcome: r.Outcome, mfa: r.MFA, compliant: r.Compliant}
	state := ""
	if err == nil {
		state = entryState(m, expires, s.asOf, s.warnDays)
		r.Exception = nil
		if rs := resultState(r, expires, s.asOf); rs != "" {
			c := *x
			c.State = rs
			r.Exception = &c
		}
	} else {
		// Not written by this tool: keep the stored state.
		state = x.State
	}
	if len(s.rep.Entries) < MaxEntries {
		s.rep.Entries = append(s.rep.Entries, pipeline.ExceptionEntry{
			IDType: r.IDType, UserID: r.UserID, Reason: x.Reason, ApprovedBy: x.ApprovedBy,
			Expires: x.Expires, Ticket: x.Ticket, State: state,
			Outcome: r.Outcome, MFA: r.MFA, Compliant: r.Compliant,
		})
	}
}

// Report lists the stored exceptions; nil when no result carried one (the
// run had no register).
func (s *Stored) Report() *pipeline.ExceptionReport {
	if !s.seen {
		return nil
	}
	rep := s.rep
	rep.AsOf, rep.WarnDays, rep.FromStored = s.asOf, s.warnDays, true
	rep.Register = "the exceptions stored with the results"
	count(&rep)
	return &rep
}

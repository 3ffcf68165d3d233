package pipeline

import "time"

// Exception states of a result (SPEC section 14).
const (
	ExceptionActive   = "active"   // non-compliant, not expired: the subject is excepted
	ExceptionExpired  = "expired"  // non-compliant, past its expiry: counts as non-compliant
	ExceptionUnneeded = "unneeded" // the subject is compliant
)

// Further states of a register entry on the Exceptions sheet, beside the
// three above.
const (
	ExceptionExpiring = "expiring" // active, expiring within the warning days
	ExceptionStale    = "stale"    // names no subject of this run (or one not_found / invalid)
	ExceptionUnknown  = "unknown"  // its subject's MFA state is unknown (outcome error)
)

// Exception is the exceptions-register entry that applies to one result.
// Expires is the last day it is valid, YYYY-MM-DD (UTC).
type Exception struct {
	State      string
	Reason     string
	ApprovedBy string
	Expires    string
	Ticket     string
}

// Excepted reports whether e makes its (non-compliant) subject excepted.
func (e *Exception) Excepted() bool { return e != nil && e.State == ExceptionActive }

// ExceptionJudge applies an exceptions register to the results of a run.
//
// The pipeline calls Apply for every result, in input order from the one
// goroutine that delivers results, after the result is classified and
// before any sink sees it; Apply sets r.Exception (nil when no entry names
// the subject or when the entry cannot be judged). Report is called once,
// after the last Apply, for the summary.
type ExceptionJudge interface {
	Apply(r *Result)
	Report() *ExceptionReport
}

// ExceptionReport is the register's side of the summary: every entry with
// the state it ended in, and the counts by state. Its size is the
// register's, which is bounded (see package exceptions).
type ExceptionReport struct {
	// Register names the register file; SHA256 is its hex digest ("" when
	// the entries came from stored results rather than a file).
	Register string
	SHA256   string
	// AsOf is the day the entries were judged against (UTC midnight): the
	// run's date. WarnDays is AUDIT_EXCEPTION_WARN_DAYS.
	AsOf     time.Time
	WarnDays int
	// FromStored is true when there was no register file: the entries are
	// those the stored results carried, so stale entries are not known.
	FromStored bool

	// Entries are the register's entries of this run's subjects (of this
	// shard's, when sharded), in register order.
	Entries []ExceptionEntry

	// Counts by final state; Expiring entries are also Active.
	Active, Expiring, Expired, Unneeded, Stale, Unknown int64
	// OtherShard counts entries whose subjects belong to other shards.
	OtherShard int64
}

// ExceptionEntry is one register entry and what became of it.
type ExceptionEntry struct {
	Line       int64 // line in the register file (0 when from stored results)
	IDType     string
	UserID     string
	Reason     string
	ApprovedBy string
	Expires    string
	Ticket     string
	// State is one of active, expiring, expired, unneeded, stale, unknown.
	State string
	// Outcome, MFA and Compliant are the subject's in this run; Outcome is
	// "" when the run did not meet the subject.
	Outcome   Outcome
	MFA       string
	Compliant *bool
}

// CoverageWithExceptionsShare is (compliant + excepted) / ok, as shown:
// undefined when nobody was checked (SPEC 14).
func (c Counts) CoverageWithExceptionsShare() Share { return Share{c.Compliant + c.Excepted, c.OK} }

package pipeline

import "time"

// Outcome is what became of one subject (SPEC section 5).
type Outcome string

const (
	OutcomeOK       Outcome = "ok"        // the API answered with the MFA state
	OutcomeNotFound Outcome = "not_found" // the API says there is no such user
	OutcomeInvalid  Outcome = "invalid"   // rejected locally or by the API (400)
	OutcomeError    Outcome = "error"     // no answer after the retries: state unknown
)

// Final reports whether the outcome will not change if the subject is asked
// again: everything but OutcomeError.
func (o Outcome) Final() bool { return o != OutcomeError && o != "" }

// MFA levels (SPEC section 5).
const (
	MFAStrong  = "strong"  // TOTP or face bound
	MFAWeak    = "weak"    // only SMS or e-mail bound
	MFANone    = "none"    // nothing bound
	MFAUnknown = "unknown" // outcome is not ok
)

// Policy decides what counts as compliant.
type Policy string

const (
	PolicyAny    Policy = "any"    // at least one factor bound
	PolicyStrong Policy = "strong" // TOTP or face bound
)

// Factors are the four MFA factors, in the order of the result fields.
var Factors = []string{"totp", "face", "sms", "email"}

// Result is the answer for one subject; its fields, in this order, are the
// columns of every output (SPEC section 5).
type Result struct {
	UserID    string
	IDType    string
	Outcome   Outcome
	TOTP      *bool // nil: outcome not ok, or the API did not report it
	Face      *bool
	SMS       *bool
	Email     *bool
	Factors   *int
	MFA       string
	Compliant *bool
	Attrs     Attrs
	Error     string
	APICode   string
	RequestID string
	Attempts  int
	CheckedAt time.Time
	// Exception is the exceptions-register entry that applies (SPEC 14);
	// nil without a register or when none names the subject.
	Exception *Exception
	// Change is how the subject changed against the baseline (SPEC 13);
	// "" (null) when the run has no baseline.
	Change Change
	// NonCompliantSince is the date (midnight UTC) since which the subject
	// has been non-compliant, carried from run to run; zero (null) unless
	// Compliant is false.
	NonCompliantSince time.Time
	// BaselineMFA is the subject's MFA level in the baseline ("" when it
	// was not there): shown beside Change in the Changes sheet, not a field
	// of SPEC 5.
	BaselineMFA string
	// Line is the input line (CSV) or row number (SQL) the subject first
	// appeared on; it increases in input order (0 if unknown).
	Line int64
	// Resumed marks a result taken from an earlier attempt of the same run
	// (Prior): it was not asked again, and stores that hold it already
	// need not write it again.
	Resumed bool
}

// Key returns the result's subject identity (KeyOf).
func (r Result) Key() Key { return KeyOf(r.IDType, r.UserID) }

// Factor returns the binding of factor f (one of Factors).
func (r Result) Factor(f string) *bool {
	switch f {
	case "totp":
		return r.TOTP
	case "face":
		return r.Face
	case "sms":
		return r.SMS
	case "email":
		return r.Email
	}
	return nil
}

// Classify fills Factors, MFA and Compliant from the outcome and the four
// factor fields, under policy p. It is the only place these rules live.
func (r *Result) Classify(p Policy) {
	if r.Outcome != OutcomeOK {
		r.TOTP, r.Face, r.SMS, r.Email = nil, nil, nil, nil
		r.Factors, r.MFA, r.Compliant = nil, MFAUnknown, nil
		return
	}
	on := func(b *bool) bool { return b != nil && *b }
	n := 0
	for _, b := range []*bool{r.TOTP, r.Face, r.SMS, r.Email} {
		if on(b) {
			n++
		}
	}
	r.Factors = &n
	strong := on(r.TOTP) || on(r.Face)
	switch {
	case strong:
		r.MFA = MFAStrong
	case n > 0:
		r.MFA = MFAWeak
	default:
		r.MFA = MFANone
	}
	c := n > 0
	if p == PolicyStrong {
		c = strong
	}
	r.Compliant = &c
}

package pipeline

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// MaxGroups bounds the group-by breakdown; further values are counted under
// OtherGroup so that a unique attribute cannot make memory grow per subject.
const MaxGroups = 10000

// OtherGroup collects subjects past MaxGroups distinct group values;
// NoGroup those without the attribute.
const (
	OtherGroup = "(other)"
	NoGroup    = "(none)"
)

// Counts are the outcome and MFA tallies of a set of subjects.
type Counts struct {
	Unique       int64 `json:"unique"`
	OK           int64 `json:"ok"`
	NotFound     int64 `json:"not_found"`
	Invalid      int64 `json:"invalid"`
	Error        int64 `json:"error"`
	Compliant    int64 `json:"compliant"`
	NonCompliant int64 `json:"non_compliant"`
	// Excepted counts the non-compliant subjects with an active exception
	// (they are also in NonCompliant, which keeps meaning the MFA fact).
	Excepted int64 `json:"excepted"`
	Strong   int64 `json:"strong"`
	Weak     int64 `json:"weak"`
	None     int64 `json:"none"`
	// Factor counts subjects with each factor bound, keyed by Factors.
	TOTP  int64 `json:"totp"`
	Face  int64 `json:"face"`
	SMS   int64 `json:"sms"`
	Email int64 `json:"email"`
}

// Add counts one result.
func (c *Counts) Add(r *Result) {
	c.Unique++
	switch r.Outcome {
	case OutcomeOK:
		c.OK++
	case OutcomeNotFound:
		c.NotFound++
	case OutcomeInvalid:
		c.Invalid++
	default:
		c.Error++
	}
	if r.Compliant != nil {
		if *r.Compliant {
			c.Compliant++
		} else {
			c.NonCompliant++
			if r.Exception.Excepted() {
				c.Excepted++
			}
		}
	}
	switch r.MFA {
	case MFAStrong:
		c.Strong++
	case MFAWeak:
		c.Weak++
	case MFANone:
		c.None++
	}
	on := func(b *bool) int64 {
		if b != nil && *b {
			return 1
		}
		return 0
	}
	c.TOTP += on(r.TOTP)
	c.Face += on(r.Face)
	c.SMS += on(r.SMS)
	c.Email += on(r.Email)
}

// FactorCount returns the number of subjects with factor f bound.
func (c Counts) FactorCount(f string) int64 {
	switch f {
	case "totp":
		return c.TOTP
	case "face":
		return c.Face
	case "sms":
		return c.SMS
	case "email":
		return c.Email
	}
	return 0
}

// Coverage is compliant / ok, in [0,1]; 0 when nothing was answered.
func (c Counts) Coverage() float64 { return ratio(c.Compliant, c.OK) }

// CoverageWithExceptions is (compliant + excepted) / ok, in [0,1]; 0 when
// nothing was answered.
func (c Counts) CoverageWithExceptions() float64 { return ratio(c.Compliant+c.Excepted, c.OK) }

// Unexcepted is the non-compliant subjects without an active exception:
// with a register, "non-compliant" in the summary (SPEC 14).
func (c Counts) Unexcepted() int64 { return c.NonCompliant - c.Excepted }

// Completeness is ok / (unique - not_found - invalid): the share of
// auditable subjects whose state is known. 1 when there is nothing to audit.
func (c Counts) Completeness() float64 {
	d := c.Unique - c.NotFound - c.Invalid
	if d <= 0 {
		return 1
	}
	return ratio(c.OK, d)
}

// Share returns n / ok (the share of answered subjects), for factor and
// strength shares.
func (c Counts) Share(n int64) float64 { return ratio(n, c.OK) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Group is one row of the group-by breakdown.
type Group struct {
	Name string `json:"name"`
	Counts
}

// Summary is the running and final aggregation of a run (SPEC section 6).
type Summary struct {
	Run RunInfo
	Counts
	RowsRead   int64 // rows the source yielded, duplicates and other shards included
	Duplicates int64 // rows whose subject had been seen before
	OtherShard int64 // rows left to other shards
	Resumed    int64 // results taken from an earlier attempt of the same run
	FinishedAt time.Time
	// Complete is true when every row was read and every subject written.
	Complete bool
	// Incomplete says in words why the run is not complete ("" when it is).
	Incomplete string
	// Failed marks a run that stopped on an error (credentials refused, the
	// source or an output failed, a systemic failure) rather than being
	// interrupted, or that finished with more unknown subjects than
	// Options.MaxUnknown allows; a stored run's status is then "failed".
	Failed bool
	// Exceptions is the exceptions register's part of the summary; nil
	// when the run has no register.
	Exceptions *ExceptionReport
	// Changes is the change since the baseline (SPEC 13); nil when there
	// is none.
	Changes *ChangeSummary
	// Trend is coverage and completeness of the latest complete runs of the
	// same source, oldest first, this one last when it is complete (at most
	// MaxTrend); empty without a Postgres history.
	Trend []TrendPoint
	// Stopped marks a run stopped early because its first answers showed
	// it could not succeed (a *SystemicError, whose words are Incomplete).
	Stopped bool

	groups map[string]*Counts
}

// Add counts one result into the totals and its group.
func (s *Summary) Add(r *Result) {
	s.Counts.Add(r)
	if r.Change != "" {
		if s.Changes == nil {
			s.Changes = &ChangeSummary{Recorded: true}
		}
		s.Changes.add(r.Change)
	}
	if s.Run.GroupBy == "" {
		return
	}
	name, _ := r.Attrs.Get(s.Run.GroupBy)
	if name = GroupKey(name); name == "" {
		name = NoGroup
	}
	if s.groups == nil {
		s.groups = map[string]*Counts{}
	}
	g := s.groups[name]
	if g == nil {
		if len(s.groups) >= MaxGroups {
			name = OtherGroup
			g = s.groups[name]
		}
		if g == nil {
			g = &Counts{}
			s.groups[name] = g
		}
	}
	g.Add(r)
}

// GroupKey is the group of an attribute value: its runs of white space
// (tabs, line breaks, spaces) folded into one space and trimmed, so that
// " Sales" and "Sales " are one group. The value itself is stored as it is.
func GroupKey(v string) string {
	prevSpace := true // a space first is not clean
	for _, r := range v {
		space := unicode.IsSpace(r)
		if space && (r != ' ' || prevSpace) {
			return strings.Join(strings.Fields(v), " ")
		}
		prevSpace = space
	}
	if prevSpace && v != "" {
		return strings.Join(strings.Fields(v), " ") // a space last
	}
	return v
}

// Groups returns the breakdown by Run.GroupBy, worst coverage first (ties:
// larger group first, then by name); groups with nobody checked have no
// coverage and come last. Nil when no group-by is set.
func (s *Summary) Groups() []Group {
	if len(s.groups) == 0 {
		return nil
	}
	out := make([]Group, 0, len(s.groups))
	for name, c := range s.groups {
		out = append(out, Group{Name: name, Counts: *c})
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(
			cmp.Compare(min(a.OK, 1), min(b.OK, 1))*-1,
			cmp.Compare(a.Coverage(), b.Coverage()),
			cmp.Compare(b.Unique, a.Unique),
			cmp.Compare(a.Name, b.Name),
		)
	})
	return out
}

package pipeline

import "strconv"

// Share is a ratio n/d of subjects shown to people as a percentage. It is
// the one way every output (HTML, workbook, log line, Postgres) turns counts
// into a share (SPEC 7, "One set of figures"): one decimal, rounded half away
// from zero, except that a share that is not exactly all never shows as
// 100.0 % (it shows 99.9 %) and one that is not exactly none never shows as
// 0.0 % (it shows 0.1 %). A share with nothing to divide by (D <= 0) is
// undefined and shows as "n/a": whoever builds the Share decides what the
// denominator is, and so when a ratio is undefined.
type Share struct {
	N, D int64
}

// NA is how an undefined share is shown.
const NA = "n/a"

// Defined reports whether there is something to divide by.
func (s Share) Defined() bool { return s.D > 0 }

// Tenths returns the share as shown, in tenths of a percent (768 for
// 76.8 %), and false when the share is undefined. The rounding is done on
// the integers, so no floating-point error can move a figure across a
// rounding boundary.
func (s Share) Tenths() (int64, bool) {
	if s.D <= 0 {
		return 0, false
	}
	n := s.N
	neg := n < 0
	if neg {
		n = -n
	}
	// round(n*1000/d) half away from zero, on magnitudes.
	t := (2*n*1000 + s.D) / (2 * s.D)
	switch {
	case n != 0 && t == 0:
		t = 1
	case n < s.D && t >= 1000:
		t = 999
	}
	if neg {
		t = -t
	}
	return t, true
}

// Percent returns the shown percentage (76.8) and false when undefined.
func (s Share) Percent() (float64, bool) {
	t, ok := s.Tenths()
	return float64(t) / 10, ok
}

// Fraction returns the shown value as a fraction (0.768), for a workbook
// cell formatted 0.0% or a stored figure, and false when undefined. A cell
// holding it shows exactly what String returns.
func (s Share) Fraction() (float64, bool) {
	t, ok := s.Tenths()
	return float64(t) / 1000, ok
}

// String returns "76.8%", or "n/a" when the share is undefined.
func (s Share) String() string {
	t, ok := s.Tenths()
	if !ok {
		return NA
	}
	neg := t < 0
	if neg {
		t = -t
	}
	out := strconv.FormatInt(t/10, 10) + "." + strconv.FormatInt(t%10, 10) + "%"
	if neg {
		out = "-" + out
	}
	return out
}

// Value returns the shown fraction, or nil when undefined: for a workbook
// cell (nil leaves it to say n/a), a JSON field or a nullable column.
func (s Share) Value() any {
	if f, ok := s.Fraction(); ok {
		return f
	}
	return nil
}

// CoverageShare is compliant / ok: undefined when nobody was checked.
func (c Counts) CoverageShare() Share { return Share{c.Compliant, c.OK} }

// CompletenessShare is ok / (unique - not_found - invalid): undefined when
// there is no subject whose state could be known.
func (c Counts) CompletenessShare() Share {
	return Share{c.OK, c.Unique - c.NotFound - c.Invalid}
}

// ShareOf is n / ok, for factor and strength shares: undefined when nobody
// was checked.
func (c Counts) ShareOf(n int64) Share { return Share{n, c.OK} }

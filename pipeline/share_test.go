package pipeline

import "testing"

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		n, d     int64
		want     string
		fraction float64
	}{
		{0, 0, "n/a", 0},
		{5, 0, "n/a", 0},
		{0, 10, "0.0%", 0},
		{10, 10, "100.0%", 1},
		{1, 2, "50.0%", 0.5},
		{1, 3, "33.3%", 0.333},
		{2, 3, "66.7%", 0.667},
		// half away from zero: 0.0625 -> 6.25 % -> 6.3 %; 0.4735 -> 47.35 % -> 47.4 %
		{1, 16, "6.3%", 0.063},
		{947, 2000, "47.4%", 0.474},
		{1894, 4000, "47.4%", 0.474},
		{999, 2000, "50.0%", 0.5}, // 49.95 -> 50.0
		{9995, 20000, "50.0%", 0.5},
		{1, 2000, "0.1%", 0.001}, // 0.05 % rounds half up to 0.1
		{1, 2001, "0.1%", 0.001}, // 0.049975 % would round to 0.0: never 0.0 % unless none
		{1, 1_000_000, "0.1%", 0.001},
		{1999, 2000, "99.9%", 0.999}, // 99.95 % would round to 100.0: never 100.0 % unless all
		{999_999, 1_000_000, "99.9%", 0.999},
		{9994, 10000, "99.9%", 0.999},
		{9996, 10000, "99.9%", 0.999},
		{767, 1000, "76.7%", 0.767},
		{7679, 10000, "76.8%", 0.768}, // 76.79 % reads 76.8 % everywhere
		{473, 1000, "47.3%", 0.473},
		{1_000_000_000, 3_000_000_000, "33.3%", 0.333},
	} {
		s := Share{tc.n, tc.d}
		if got := s.String(); got != tc.want {
			t.Errorf("Share{%d, %d}.String() = %q, want %q", tc.n, tc.d, got, tc.want)
		}
		f, ok := s.Fraction()
		if ok != (tc.d > 0) || f != tc.fraction {
			t.Errorf("Share{%d, %d}.Fraction() = %v, %v, want %v", tc.n, tc.d, f, ok, tc.fraction)
		}
		if tn, _ := s.Tenths(); tn != int64(tc.fraction*1000+0.5) {
			t.Errorf("Share{%d, %d}.Tenths() = %d", tc.n, tc.d, tn)
		}
		if p, _ := s.Percent(); p != float64(int64(tc.fraction*1000+0.5))/10 {
			t.Errorf("Share{%d, %d}.Percent() = %v", tc.n, tc.d, p)
		}
		if v := s.Value(); (v == nil) != (tc.d <= 0) {
			t.Errorf("Share{%d, %d}.Value() = %v", tc.n, tc.d, v)
		}
	}
}

func TestCountsShares(t *testing.T) {
	c := Counts{Unique: 10, OK: 6, NotFound: 1, Invalid: 1, Compliant: 3, TOTP: 2}
	if got := c.CoverageShare().String(); got != "50.0%" {
		t.Errorf("coverage %s", got)
	}
	if got := c.CompletenessShare().String(); got != "75.0%" {
		t.Errorf("completeness %s", got)
	}
	if got := c.ShareOf(c.TOTP).String(); got != "33.3%" {
		t.Errorf("totp %s", got)
	}
	if got := (Counts{Unique: 2, NotFound: 2}).CompletenessShare().String(); got != "n/a" {
		t.Errorf("nothing auditable: completeness %s", got)
	}
	if got := (Counts{}).CoverageShare().String(); got != "n/a" {
		t.Errorf("nobody checked: coverage %s", got)
	}
}

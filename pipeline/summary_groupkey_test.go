package pipeline

import "testing"

func TestGroupKey(t *testing.T) {
	for in, want := range map[string]string{
		"Sales": "Sales", " Sales": "Sales", "Sales\r": "Sales", "\tR&D  Lab\n2 ": "R&D Lab 2",
		"研发部": "研发部", "研发\u3000部": "研发 部", "": "", " \t ": "", "a b": "a b", "=1+2": "=1+2",
	} {
		if got := GroupKey(in); got != want {
			t.Errorf("GroupKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGroupKeyKeepsValues: results with padded values count in one group;
// the results keep their values.
func TestGroupKeyKeepsValues(t *testing.T) {
	s := Summary{Run: RunInfo{GroupBy: "dept"}}
	yes := true
	for _, v := range []string{"Sales", " Sales", "Sales\t", "", "  "} {
		r := &Result{Outcome: OutcomeOK, MFA: "strong", Compliant: &yes, Attrs: Attrs{{Key: "dept", Value: v}}}
		s.Add(r)
		if r.Attrs[0].Value != v {
			t.Errorf("value %q became %q", v, r.Attrs[0].Value)
		}
	}
	got := map[string]int64{}
	for _, g := range s.Groups() {
		got[g.Name] = g.Unique
	}
	if len(got) != 2 || got["Sales"] != 3 || got[NoGroup] != 2 {
		t.Errorf("groups %v, want Sales 3 and %s 2", got, NoGroup)
	}
}

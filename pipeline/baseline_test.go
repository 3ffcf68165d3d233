package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// resultsSource is a ResultSource over a slice (a stored baseline).
type resultsSource struct {
	results  []Result
	i        int
	complete bool
}

func (s *resultsSource) Run() RunInfo { return RunInfo{RunID: "base"} }
func (s *resultsSource) Next(ctx context.Context) (Result, error) {
	if s.i >= len(s.results) {
		return Result{}, EOF
	}
	s.i++
	return s.results[s.i-1], nil
}
func (s *resultsSource) Stored() (bool, string) {
	if s.complete {
		return true, ""
	}
	return false, "interrupted"
}
func (s *resultsSource) Close() error { return nil }

func opener(results []Result, complete bool) func(context.Context) (ResultSource, error) {
	return func(context.Context) (ResultSource, error) {
		return &resultsSource{results: results, complete: complete}, nil
	}
}

// state builds a result from a compact description: "ok:TFSE" with the
// letters of the bound factors, or an outcome.
func state(id, desc string, day time.Time) Result {
	r := Result{UserID: id, IDType: "user_id", CheckedAt: day.Add(9 * time.Hour)}
	if len(desc) < 2 || desc[:2] != "ok" {
		r.Outcome = Outcome(desc)
		return r
	}
	r.Outcome = OutcomeOK
	f := func(c byte) *bool {
		v := false
		for i := 3; i < len(desc); i++ {
			v = v || desc[i] == c
		}
		return &v
	}
	r.TOTP, r.Face, r.SMS, r.Email = f('T'), f('F'), f('S'), f('E')
	return r
}

var (
	day1 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	day2 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day3 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

// TestChangeClassesAndPrecedence compares every pair of states that picks
// a class, under both policies, with the rules of SPEC 13 written out.
func TestChangeClassesAndPrecedence(t *testing.T) {
	cases := []struct {
		then, now   string // "" then: absent from the baseline
		any, strong Change
	}{
		{"ok:T", "error", ChangeUnknown, ChangeUnknown},          // not ok now wins over everything
		{"ok:T", "not_found", ChangeUnknown, ChangeUnknown},      // deleted since
		{"", "invalid", ChangeUnknown, ChangeUnknown},            // not ok now, absent then
		{"error", "ok:", ChangeUnknown, ChangeUnknown},           // unknown then wins over joined/new_gap
		{"", "ok:T", ChangeJoined, ChangeJoined},                 // absent then
		{"not_found", "ok:", ChangeJoined, ChangeJoined},         // joined wins over fixed/new_gap
		{"invalid", "ok:S", ChangeJoined, ChangeJoined},          //
		{"ok:S", "ok:", ChangeNewGap, ChangeUnchanged},           // weak->none: compliant then only under any
		{"ok:T", "ok:S", ChangeWeakened, ChangeNewGap},           // strong->weak
		{"ok:", "ok:E", ChangeFixed, ChangeUnchanged},            // none->weak
		{"ok:S", "ok:F", ChangeStrengthened, ChangeFixed},        // weak->strong: fixed wins under strong
		{"ok:T", "ok:TF", ChangeUnchanged, ChangeUnchanged},      // strong->strong
		{"ok:", "ok:", ChangeUnchanged, ChangeUnchanged},         // none->none
		{"ok:TS", "ok:SE", ChangeWeakened, ChangeNewGap},         //
		{"ok:T", "ok:", ChangeNewGap, ChangeNewGap},              // new_gap wins over weakened
		{"ok:E", "ok:T", ChangeStrengthened, ChangeFixed},        //
		{"not_found", "error", ChangeUnknown, ChangeUnknown},     //
		{"ok:", "ok:T", ChangeFixed, ChangeFixed},                // fixed wins over strengthened
		{"ok:F", "ok:TF", ChangeUnchanged, ChangeUnchanged},      //
		{"ok:SE", "ok:S", ChangeUnchanged, ChangeUnchanged},      //
		{"error", "error", ChangeUnknown, ChangeUnknown},         //
		{"invalid", "not_found", ChangeUnknown, ChangeUnknown},   //
		{"ok:T", "invalid", ChangeUnknown, ChangeUnknown},        //
		{"not_found", "ok:T", ChangeJoined, ChangeJoined},        //
		{"ok:E", "ok:E", ChangeUnchanged, ChangeUnchanged},       //
		{"ok:T", "ok:T", ChangeUnchanged, ChangeUnchanged},       //
		{"ok:", "ok:S", ChangeFixed, ChangeUnchanged},            //
		{"ok:SE", "ok:F", ChangeStrengthened, ChangeFixed},       //
		{"ok:F", "ok:E", ChangeWeakened, ChangeNewGap},           //
		{"ok:S", "ok:S", ChangeUnchanged, ChangeUnchanged},       //
		{"ok:TFSE", "ok:", ChangeNewGap, ChangeNewGap},           //
		{"ok:", "ok:TFSE", ChangeFixed, ChangeFixed},             //
		{"error", "ok:T", ChangeUnknown, ChangeUnknown},          //
		{"ok:T", "ok:TFSE", ChangeUnchanged, ChangeUnchanged},    //
		{"ok:TFSE", "ok:SE", ChangeWeakened, ChangeNewGap},       //
		{"", "ok:", ChangeJoined, ChangeJoined},                  //
		{"", "error", ChangeUnknown, ChangeUnknown},              //
		{"not_found", "not_found", ChangeUnknown, ChangeUnknown}, //
	}
	for _, policy := range []Policy{PolicyAny, PolicyStrong} {
		var base []Result
		for i, c := range cases {
			if c.then != "" {
				base = append(base, state(fmt.Sprint(i), c.then, day1))
			}
		}
		b, err := LoadBaseline(context.Background(), BaselineInfo{File: "base.jsonl"}, opener(base, true), policy, Shard{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			now := state(fmt.Sprint(i), c.now, day2)
			now.Classify(policy)
			b.Compare(&now, day2)
			want := c.any
			if policy == PolicyStrong {
				want = c.strong
			}
			if now.Change != want {
				t.Errorf("policy %s: %s then, %s now: change %q, want %q", policy, c.then, c.now, now.Change, want)
			}
		}
	}
}

// TestNonCompliantSinceAgesThroughAChain runs three comparisons in a row,
// each baseline being the previous run's results, as a chain of JSON Lines
// files does: the gap keeps its first date while it stays open, a fixed
// subject loses it, a new gap starts at its run's date.
func TestNonCompliantSinceAgesThroughAChain(t *testing.T) {
	runs := []struct {
		day    time.Time
		states map[string]string
	}{
		{day1, map[string]string{"a": "ok:", "b": "ok:T", "c": "ok:", "d": "ok:S"}},
		{day2, map[string]string{"a": "ok:", "b": "ok:", "c": "ok:T", "d": "error"}},
		{day3, map[string]string{"a": "ok:", "b": "ok:", "c": "ok:", "d": "ok:"}},
	}
	want := []map[string]time.Time{
		{"a": day1, "c": day1},
		{"a": day1, "b": day2},
		{"a": day1, "b": day2, "c": day3, "d": day3}, // d was unknown in between: its date starts again
	}
	var prev []Result
	for i, run := range runs {
		var b *Baseline
		if prev != nil {
			var err error
			if b, err = LoadBaseline(context.Background(), BaselineInfo{}, opener(prev, true), PolicyAny, Shard{}, 0); err != nil {
				t.Fatal(err)
			}
		}
		var out []Result
		for _, id := range []string{"a", "b", "c", "d"} {
			r := state(id, run.states[id], run.day)
			r.Classify(PolicyAny)
			if b != nil {
				b.Compare(&r, run.day)
			} else {
				SetNonCompliantSince(&r, run.day)
			}
			if got := r.NonCompliantSince; !got.Equal(want[i][id]) {
				t.Errorf("run %d subject %s: non_compliant_since %v, want %v", i+1, id, got, want[i][id])
			}
			out = append(out, r)
		}
		prev = out
	}
}

// TestPolicySwitchRecomputesTheBaseline: a baseline stored under "any"
// compared under "strong" judges its subjects by their factors, and a
// subject non-compliant only under the new policy dates from the
// baseline's check.
func TestPolicySwitchRecomputesTheBaseline(t *testing.T) {
	weak := state("w", "ok:S", day1)
	weak.Classify(PolicyAny) // compliant as stored, no date
	b, err := LoadBaseline(context.Background(), BaselineInfo{}, opener([]Result{weak}, true), PolicyStrong, Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := state("w", "ok:S", day2)
	now.Classify(PolicyStrong)
	b.Compare(&now, day2)
	if now.Change != ChangeUnchanged || !now.NonCompliantSince.Equal(day1) {
		t.Errorf("got %s since %v; want unchanged since %v", now.Change, now.NonCompliantSince, day1)
	}
	if c := b.newSummary(); c.Then.Coverage() != 0 {
		t.Errorf("coverage then %v under strong, want 0", c.Then.Coverage())
	}
}

// TestRunCountsChangesAndListsLeft runs the pipeline against a baseline:
// the summary counts every class, subjects of the baseline the run did not
// meet are left (counted and listed once, in baseline order), and coverage
// then and now differ by the right points.
func TestRunCountsChangesAndListsLeft(t *testing.T) {
	base := []Result{
		state("u0", "ok:T", day1), state("gone1", "ok:", day1), state("u1", "ok:S", day1),
		state("gone2", "ok:T", day1), state("gone1", "ok:", day1), // stored twice: listed once
	}
	b, err := LoadBaseline(context.Background(), BaselineInfo{File: "b.jsonl"}, opener(base, false), PolicyAny, Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 4 {
		t.Fatalf("baseline holds %d subjects, want 4", b.Len())
	}
	// fakeClient: every id of two characters has TOTP bound.
	sink := &memSink{t: t}
	src := &sliceSource{subjects: []Subject{{UserID: "u0", IDType: "user_id"}, {UserID: "u1", IDType: "user_id"}, {UserID: "u2", IDType: "user_id"}}}
	client := &fakeClient{}
	sum, err := Run(context.Background(), src, []Sink{sink}, RunInfo{RunID: "r2", StartedAt: day2}, Options{Client: client, Baseline: b})
	if err != nil {
		t.Fatal(err)
	}
	c := sum.Changes
	if c == nil || c.Recorded || c.Baseline.File != "b.jsonl" || c.Baseline.Complete {
		t.Fatalf("changes %+v", c)
	}
	got := map[Change]int64{}
	for _, class := range ChangeClasses {
		if n := c.Count(class); n > 0 {
			got[class] = n
		}
	}
	// u0 strong then and now; u1 weak then, strong now; u2 new.
	want := map[Change]int64{ChangeLeft: 2, ChangeJoined: 1, ChangeUnchanged: 1, ChangeStrengthened: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	var left []string
	if err := c.Left(context.Background(), func(r Result) error {
		if r.Change != ChangeLeft {
			t.Errorf("left subject %s has change %q", r.UserID, r.Change)
		}
		left = append(left, r.UserID+":"+r.BaselineMFA)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(left) != "[gone1:none gone2:strong]" {
		t.Errorf("left %v", left)
	}
	// 3 of 4 compliant then (75.0 %), 3 of 3 now (100.0 %).
	if d, ok := c.CoveragePoints(sum.Counts); !ok || d != 250 || c.PointsText(sum.Counts) != "+25.0 points" {
		t.Errorf("coverage points %v %v %q", d, ok, c.PointsText(sum.Counts))
	}
}

// TestBaselineMatchesEmailsInAnyCase: the baseline and the run meet one
// subject however its e-mail address is cased.
func TestBaselineMatchesEmailsInAnyCase(t *testing.T) {
	then := state("Ann@X.com", "ok:T", day1)
	then.IDType = "email"
	b, err := LoadBaseline(context.Background(), BaselineInfo{}, opener([]Result{then}, true), PolicyAny, Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := state("ann@x.com", "ok:", day2)
	now.IDType = "email"
	now.Classify(PolicyAny)
	b.Compare(&now, day2)
	if now.Change != ChangeNewGap || b.met != 1 {
		t.Errorf("change %q, met %d; want new_gap, 1", now.Change, b.met)
	}
}

package pipeline

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func TestSeenAddsEachKeyOnce(t *testing.T) {
	d := newSeen()
	const n = 200_000 // several growths
	for i := range n {
		if !d.add(Key{"user_id", fmt.Sprint(i)}) {
			t.Fatalf("key %d reported as seen before", i)
		}
	}
	for i := range n {
		if d.add(Key{"user_id", fmt.Sprint(i)}) {
			t.Fatalf("key %d reported as new twice", i)
		}
	}
	// The same id under another type, and ids that differ only across the
	// type/id boundary, are different subjects.
	if !d.add(Key{"email", "1"}) || !d.add(Key{"user_id1", ""}) || !d.add(Key{"user_", "id1"}) {
		t.Error("distinct subjects taken as repeats")
	}
	if d.n != n+3 || d.n*5 > len(d.hi)*4 {
		t.Errorf("%d keys in %d slots", d.n, len(d.hi))
	}
}

// TestDedupeOverTheBaseline: subjects of the baseline are de-duplicated on
// its table (e-mails in any case, a key the baseline stored twice), other
// subjects in seen, which then holds only those.
func TestDedupeOverTheBaseline(t *testing.T) {
	ann := state("Ann@X.com", "ok:T", day1)
	ann.IDType = "email"
	base := []Result{state("a", "ok:T", day1), state("b", "not_found", day1), ann, state("a", "ok:", day1)}
	b, err := LoadBaseline(context.Background(), BaselineInfo{}, opener(base, true), PolicyAny, Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := newDedupe(b, nil, nil)
	steps := []struct {
		k   Key
		new bool
	}{
		{KeyOf("user_id", "a"), true}, {KeyOf("user_id", "a"), false},
		{KeyOf("email", "ann@x.com"), true}, {KeyOf("email", "ANN@x.COM"), false},
		{KeyOf("user_id", "c"), true}, {KeyOf("user_id", "c"), false},
		{KeyOf("user_id", "b"), true}, {KeyOf("user_id", "b"), false},
		{KeyOf("email", "a"), true}, {KeyOf("user_id", "A"), true},
	}
	for i, s := range steps {
		if got := d.add(s.k); got != s.new {
			t.Errorf("step %d: add(%v) = %v, want %v", i, s.k, got, s.new)
		}
	}
	if d.seen.n != 3 {
		t.Errorf("seen holds %d keys, want the 3 the baseline does not", d.seen.n)
	}
	// A second run over the same baseline starts with no subject met.
	if !newDedupe(b, nil, nil).add(KeyOf("user_id", "a")) {
		t.Error("a new run found a subject met")
	}
}

// TestRunWithABaselineHoldsNoSecondTable: a run of the baseline's own
// subjects (with repeats) counts them as without a baseline, and its
// de-duplication table never grows: the baseline's table remembers them.
func TestRunWithABaselineHoldsNoSecondTable(t *testing.T) {
	const n = 5000 // enough to grow seen 1024 -> 1536 -> ... were they in it
	var base []Result
	var in []Subject
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		base = append(base, state(id, "ok:T", day1))
		in = append(in, Subject{UserID: id, IDType: "user_id"})
		if i%10 == 0 {
			in = append(in, Subject{UserID: id, IDType: "user_id"})
		}
	}
	in = append(in, Subject{UserID: "new1"}, Subject{UserID: "new1"})
	b, err := LoadBaseline(context.Background(), BaselineInfo{}, opener(base[:n-1], true), PolicyAny, Shard{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	grew := 0
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: in}, []Sink{sink}, RunInfo{StartedAt: day2}, Options{
		Client: &fakeClient{}, Baseline: b, OnDedupeGrow: func(int64) { grew++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unique != n+1 || sum.Duplicates != n/10+1 || int64(len(sink.results)) != sum.Unique {
		t.Errorf("unique %d duplicates %d results %d; want %d, %d, %d", sum.Unique, sum.Duplicates, len(sink.results), n+1, n/10+1, n+1)
	}
	if grew != 0 {
		t.Errorf("the de-duplication table grew %d times", grew)
	}
	if j := sum.Changes.Count(ChangeJoined); j != 2 { // s4999 (not in the baseline given) and new1
		t.Errorf("%d joined, want 2", j)
	}
	if l := sum.Changes.Count(ChangeLeft); l != 0 {
		t.Errorf("%d left, want 0", l)
	}
}

func BenchmarkSeenAdd(b *testing.B) {
	keys := make([]Key, 1<<16)
	for i := range keys {
		keys[i] = Key{"user_id", fmt.Sprintf("6%023x", i)}
	}
	d := newSeen()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.add(Key{keys[i&(len(keys)-1)].IDType, keys[i&(len(keys)-1)].UserID + fmt.Sprint(i>>16)})
	}
}

// TestSeenGrowsToHint: with a size hint the table grows once, to hold the
// hinted subjects at 80 %, and reports the old and new tables while it
// grows, then the new one.
func TestSeenGrowsToHint(t *testing.T) {
	const n = 50_000
	s := newSeen()
	s.hint = func() int64 { return n }
	var sizes []int64
	s.onGrow = func(b int64) { sizes = append(sizes, b) }
	for i := range n {
		if !s.add(KeyOf("user_id", fmt.Sprintf("u%06d", i))) {
			t.Fatalf("subject %d seen twice", i)
		}
	}
	want := []int64{(seenInitial + n + n/4 + 1) * 12, (n + n/4 + 1) * 12}
	if !slices.Equal(sizes, want) {
		t.Errorf("grew as %v, want once: %v", sizes, want)
	}
	for i := range n {
		if s.add(KeyOf("user_id", fmt.Sprintf("u%06d", i))) {
			t.Fatalf("subject %d new twice", i)
		}
	}
	// A wrong hint (too small) only means growing as without one.
	s = newSeen()
	s.hint = func() int64 { return 10 }
	for i := range 5000 {
		s.add(KeyOf("user_id", fmt.Sprintf("u%06d", i)))
	}
	if s.n != 5000 || len(s.hi)*4 < s.n*5 {
		t.Errorf("%d subjects in %d slots", s.n, len(s.hi))
	}
}

package pipeline

import (
	"fmt"
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

package pipeline

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

// TestBaselineTableGrows keeps every key when the table grows from its
// smallest size, and finds none it was not given.
func TestBaselineTableGrows(t *testing.T) {
	var tb baselineTable
	tb.init(0)
	for i := range 5000 {
		if !tb.insert(Key{IDType: "user_id", UserID: fmt.Sprint(i)}, bOK|uint8(i%4)<<2, int32(i)) {
			t.Fatalf("key %d not new", i)
		}
	}
	for i := range 5000 {
		j, ok := tb.find(Key{IDType: "user_id", UserID: fmt.Sprint(i)})
		if !ok || tb.state[j] != bOK|uint8(i%4)<<2 || tb.day(j) != int32(i) {
			t.Fatalf("key %d: found %v state %d since %d", i, ok, tb.state[j], tb.day(j))
		}
	}
	if _, ok := tb.find(Key{IDType: "email", UserID: "0"}); ok {
		t.Error("found a key never inserted")
	}
}

// TestBaselineTableKeepsEveryDay: a day the two bytes of a slot hold and
// one they do not (before 1970, after 2149, the marker value itself) come
// back the same, also after the table grows; only the latter cost a map
// entry.
func TestBaselineTableKeepsEveryDay(t *testing.T) {
	days := []int32{
		0, 1, 2, sinceFar - 1, // in the slot (0: no date)
		sinceFar, sinceFar + 1, -1, -40000, math.MaxInt32, math.MinInt32, // in far
	}
	var tb baselineTable
	tb.init(0)
	const n = 3000 // grows twice from 1024 slots
	for i := range n {
		if !tb.insert(Key{IDType: "user_id", UserID: fmt.Sprint(i)}, bOK, days[i%len(days)]) {
			t.Fatalf("key %d not new", i)
		}
	}
	if tb.size() <= 1024 {
		t.Fatalf("the table did not grow: %d slots", tb.size())
	}
	for i := range n {
		j, ok := tb.find(Key{IDType: "user_id", UserID: fmt.Sprint(i)})
		if want := days[i%len(days)]; !ok || tb.day(j) != want {
			t.Fatalf("key %d: found %v, day %d, want %d", i, ok, tb.day(j), want)
		}
	}
	if want := n / len(days) * 6; len(tb.far) != want {
		t.Errorf("%d days kept in far, want %d (only those the slot cannot hold)", len(tb.far), want)
	}
	if got := tb.bytes(); got != int64(tb.size())*15+int64(len(tb.far))*farEntryBytes {
		t.Errorf("bytes %d for %d slots and %d far days", got, tb.size(), len(tb.far))
	}
	// The range the slot holds, as the type's comment says.
	if first, last := dayTime(1), dayTime(sinceFar-1); !first.Equal(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!last.Equal(time.Date(2149, 6, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("the slot holds %v to %v", first, last)
	}
	if d := time.Date(2149, 6, 5, 0, 0, 0, 0, time.UTC); dayNumber(d) != sinceFar {
		t.Errorf("dayNumber(%v) = %d, want the first day kept in far", d, dayNumber(d))
	}
}

// TestBaselineTableCollisions: hashes that share their home slot, their
// first 64 bits or their last 32 are different keys; probing wraps from
// the last slot to the first; a hash stored again keeps its first state.
func TestBaselineTableCollisions(t *testing.T) {
	var tb baselineTable
	tb.init(0)
	last := uint64(math.MaxUint64) // maps onto the last slot
	hs := []slotHash{
		{last, 1}, {last, 3}, {last - 1, 1}, {last - 2, 5}, // one home slot, the last
		{0, 1}, {0, 7}, // the first slot, where the probes above wrap to
		{12345 << 40, 1}, {12346 << 40, 1},
	}
	for i, h := range hs {
		if !tb.insertHash(h, uint8(i), int32(i)) {
			t.Fatalf("hash %d (%x) taken as stored", i, h)
		}
	}
	for i, h := range hs {
		if tb.insertHash(h, 99, 99) {
			t.Fatalf("hash %d stored twice", i)
		}
		j, ok := tb.slot(h)
		if !ok || tb.state[j] != uint8(i) || tb.day(j) != int32(i) {
			t.Errorf("hash %d: found %v, state %d day %d", i, ok, tb.state[j], tb.day(j))
		}
	}
	if j, _ := tb.slot(hs[0]); j != uint64(tb.size()-1) {
		t.Errorf("the first hash is in slot %d of %d, want the last", j, tb.size())
	}
	if j, _ := tb.slot(hs[1]); j != 0 {
		t.Errorf("the second hash of the last slot is in slot %d, want 0 (wrapped)", j)
	}
	if _, ok := tb.slot(slotHash{last, 9}); ok {
		t.Error("found a hash never stored")
	}
	if tb.n != len(hs) {
		t.Errorf("%d keys, want %d", tb.n, len(hs))
	}
}

// TestBaselineBytes: a baseline of a million subjects, sized once from
// its line count, holds 15 bytes a slot and a bit for the run's
// de-duplication: under 19 bytes a subject.
func TestBaselineBytes(t *testing.T) {
	const n = 1_000_000
	b, err := LoadBaseline(context.Background(), BaselineInfo{}, opener(nil, true), PolicyAny, Shard{}, n)
	if err != nil {
		t.Fatal(err)
	}
	slots := int64(n*5/4 + 1)
	if got, want := b.Bytes(), slots*15+(slots+63)/64*8; got != want {
		t.Errorf("Bytes %d, want %d", got, want)
	}
	if per := float64(b.Bytes()) / n; per > 19 {
		t.Errorf("%.1f bytes a subject", per)
	}
}

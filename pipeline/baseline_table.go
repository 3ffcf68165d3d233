package pipeline

import (
	"hash/maphash"
	"math"
)

// baselineTable maps subject keys to packed states: open addressing with
// linear probing over 96-bit hashes of the keys (as the de-duplication
// table: a false match needs two keys to agree on 95 bits), sized so it
// stays at most 80 % full, growing by half. A slot is 15 bytes: the hash
// in 12, the state in one and the day (dayNumber) in two, which hold the
// days from 1970-01-01 to 2149-06-04; a day outside them (a date no run
// writes, but a results file may hold) is kept in far, by hash.
//
// Once loaded the table's keys do not change: find may then run on one
// goroutine while another updates states.
type baselineTable struct {
	s1, s2 maphash.Seed
	hi     []uint64
	lo     []uint32 // low bit forced to 1; 0 is an empty slot
	state  []uint8
	since  []uint16 // the day; sinceFar: the day is in far
	far    map[slotHash]int32
	n      int
}

// slotHash is the 96-bit hash a slot holds.
type slotHash struct {
	hi uint64
	lo uint32
}

// sinceFar marks a day that the 16 bits of a slot cannot hold.
const sinceFar = math.MaxUint16

// baselineSlotBytes is the size of one slot of a baselineTable.
const baselineSlotBytes = 8 + 4 + 1 + 2

// farEntryBytes is about what a day kept in far costs (map entry and its
// share of the buckets).
const farEntryBytes = 48

func (t *baselineTable) init(hint int) {
	t.s1, t.s2 = maphash.MakeSeed(), maphash.MakeSeed()
	t.alloc(max(1024, hint*5/4+1))
}

func (t *baselineTable) alloc(size int) {
	t.hi, t.lo = make([]uint64, size), make([]uint32, size)
	t.state, t.since = make([]uint8, size), make([]uint16, size)
}

// size is the number of slots.
func (t *baselineTable) size() int { return len(t.hi) }

// bytes is the memory the table holds.
func (t *baselineTable) bytes() int64 {
	return int64(len(t.hi))*baselineSlotBytes + int64(len(t.far))*farEntryBytes
}

// hash returns the 96-bit hash of k that a slot holds.
func (t *baselineTable) hash(k Key) slotHash {
	return slotHash{hashKey(t.s1, k), uint32(hashKey(t.s2, k)) | 1}
}

// slot returns where h is or would go.
func (t *baselineTable) slot(h slotHash) (uint64, bool) {
	return probe(t.hi, t.lo, h.hi, h.lo)
}

// find returns the slot of k. It only reads the keys' hashes.
func (t *baselineTable) find(k Key) (uint64, bool) {
	return t.slot(t.hash(k))
}

// insert adds k with its state and day (dayNumber, 0 for none) and reports
// whether it was new; a key already present keeps its first state.
func (t *baselineTable) insert(k Key, st uint8, since int32) bool {
	return t.insertHash(t.hash(k), st, since)
}

func (t *baselineTable) insertHash(h slotHash, st uint8, since int32) bool {
	i, found := t.slot(h)
	if found {
		return false
	}
	t.hi[i], t.lo[i], t.state[i] = h.hi, h.lo, st
	t.setDay(i, h, since)
	t.n++
	if t.n*5 > len(t.hi)*4 {
		t.grow()
	}
	return true
}

// setDay stores the day of slot i, whose hash is h.
func (t *baselineTable) setDay(i uint64, h slotHash, since int32) {
	if since >= 0 && since < sinceFar {
		t.since[i] = uint16(since)
		return
	}
	if t.far == nil {
		t.far = map[slotHash]int32{}
	}
	t.since[i] = sinceFar
	t.far[h] = since
}

// day returns the day of slot i (dayNumber; 0 for none).
func (t *baselineTable) day(i uint64) int32 {
	if d := t.since[i]; d != sinceFar {
		return int32(d)
	}
	return t.far[slotHash{t.hi[i], t.lo[i]}]
}

func (t *baselineTable) grow() {
	old := *t
	t.alloc(len(old.hi) + len(old.hi)/2)
	for i, lo := range old.lo {
		if lo != 0 {
			j, _ := t.slot(slotHash{old.hi[i], lo})
			t.hi[j], t.lo[j], t.state[j], t.since[j] = old.hi[i], lo, old.state[i], old.since[i]
		}
	}
}

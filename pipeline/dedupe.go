package pipeline

import (
	"hash/maphash"
	"math/bits"
)

// seen remembers which subjects a run has met, at a small fixed cost per
// subject whatever the length of its identifiers: an open-addressing table
// (linear probing) of 95-bit hashes of the keys, 12 bytes a slot, at most
// 80 % full, growing by half. At a million subjects it holds about 18 MB,
// against some 50 MB for a Go map of 128-bit keys. A false "seen" needs two
// keys to agree on all 95 bits: about 2^-95 per pair, never in practice.
type seen struct {
	s1, s2 maphash.Seed
	hi     []uint64 // first hash; with lo == 0 the slot is empty
	lo     []uint32 // 32 bits of the second hash, low bit forced to 1
	n      int
	// onGrow, when set, learns the memory the table is about to hold
	// (old and new table while it grows), then what it holds.
	onGrow func(bytes int64)
	// hint, when set, estimates the subjects the table will hold (0 or
	// less: unknown). A growing table goes straight to the size that holds
	// them, so a run whose source knows its length (a CSV file) never
	// holds two large tables at once while one grows.
	hint func() int64
}

const seenInitial = 1024

func newSeen() *seen {
	return &seen{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), hi: make([]uint64, seenInitial), lo: make([]uint32, seenInitial)}
}

// add records k and reports whether it was new.
func (d *seen) add(k Key) bool {
	hi, lo := hashKey(d.s1, k), uint32(hashKey(d.s2, k))|1
	if !d.insert(hi, lo) {
		return false
	}
	d.n++
	if d.n*5 > len(d.hi)*4 {
		d.grow()
	}
	return true
}

// insert puts (hi, lo) in its slot and reports whether it was absent.
func (d *seen) insert(hi uint64, lo uint32) bool {
	i, found := probe(d.hi, d.lo, hi, lo)
	if !found {
		d.hi[i], d.lo[i] = hi, lo
	}
	return !found
}

// probe finds (hi, lo) in a linear-probing table of 96-bit hashes (his,
// los; a slot with lo 0 is empty, so lo has its low bit set): its slot, or
// the empty slot where it would go. The table must have an empty slot. The
// de-duplication and the baseline tables share it.
func probe(his []uint64, los []uint32, hi uint64, lo uint32) (uint64, bool) {
	size := uint64(len(his))
	i, _ := bits.Mul64(hi, size) // hi mapped onto [0, size) without a modulo
	for {
		switch {
		case los[i] == 0:
			return i, false
		case his[i] == hi && los[i] == lo:
			return i, true
		}
		if i++; i == size {
			i = 0
		}
	}
}

// grow rehashes into a table half as large again, or large enough for
// the hinted number of subjects at 80 % if that is more.
func (d *seen) grow() {
	oldHi, oldLo := d.hi, d.lo
	size := len(oldHi) + len(oldHi)/2
	if d.hint != nil {
		if h := d.hint(); h > 0 && h < 1<<40 {
			size = max(size, int(h+h/4)+1)
		}
	}
	if d.onGrow != nil {
		d.onGrow(int64(len(oldHi)+size) * 12)
	}
	d.hi, d.lo = make([]uint64, size), make([]uint32, size)
	for i, lo := range oldLo {
		if lo != 0 {
			d.insert(oldHi[i], lo)
		}
	}
	if d.onGrow != nil {
		d.onGrow(d.bytes())
	}
}

// bytes is the memory the table holds.
func (d *seen) bytes() int64 { return int64(len(d.hi)) * 12 }

func hashKey(seed maphash.Seed, k Key) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(k.IDType)
	h.WriteByte(0)
	h.WriteString(k.UserID)
	return h.Sum64()
}

// dedupe is a run's de-duplication. A subject the baseline holds is
// remembered by one bit over the baseline's table, which already holds its
// key's 96-bit hash (as strong as seen's); any other subject goes into
// seen. A run compared with a baseline of the same subjects thus keeps no
// second table of them: about 18 bytes a subject less at a million.
//
// It reads only the keys of the baseline's table, which do not change once
// the baseline is loaded, so the delivery goroutine may meanwhile compare
// results with the baseline (Baseline.Compare updates states only).
type dedupe struct {
	base *baselineTable // nil without a baseline
	read []uint64       // bit i: the subject of base's slot i was read in this run
	seen *seen
}

// newDedupe returns the de-duplication of a run compared with b (nil for
// none); onGrow, if set, learns the memory of seen as it grows (see
// seen.onGrow), and hint, if set, how many subjects it may hold.
func newDedupe(b *Baseline, onGrow func(bytes int64), hint func() int64) *dedupe {
	d := &dedupe{seen: newSeen()}
	d.seen.onGrow, d.seen.hint = onGrow, hint
	if b != nil {
		d.base = &b.t
		d.read = make([]uint64, readBitsWords(b.t.size()))
	}
	return d
}

// add records k and reports whether it was new.
func (d *dedupe) add(k Key) bool {
	if d.base != nil {
		if i, ok := d.base.find(k); ok {
			w, bit := i/64, uint64(1)<<(i%64)
			if d.read[w]&bit != 0 {
				return false
			}
			d.read[w] |= bit
			return true
		}
	}
	return d.seen.add(k)
}

func readBitsWords(slots int) int { return (slots + 63) / 64 }

// readBitsBytes is the memory of dedupe's bits over a table of slots.
func readBitsBytes(slots int) int64 { return int64(readBitsWords(slots)) * 8 }

// KeySet is a set of subject keys at the fixed cost of the run's own
// de-duplication (12 bytes a slot, about 18 bytes a key). Not safe for
// concurrent use.
type KeySet struct{ s *seen }

// NewKeySet returns an empty set.
func NewKeySet() *KeySet { return &KeySet{s: newSeen()} }

// Add records k and reports whether it was new.
func (k *KeySet) Add(key Key) bool { return k.s.add(key) }

// Len is the number of keys added.
func (k *KeySet) Len() int64 { return int64(k.s.n) }

package pipeline

import "hash/maphash"

// seen remembers which subjects a run has met, at a fixed 16 bytes (plus
// map overhead) per subject whatever the length of the identifiers: it keeps
// a 128-bit hash of each key (two independent 64-bit maphash values), so a
// false "seen" needs a collision of both, about 2^-128 per pair.
type seen struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]struct{}
}

func newSeen() *seen {
	return &seen{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: make(map[[2]uint64]struct{})}
}

// add records k and reports whether it was new.
func (d *seen) add(k Key) bool {
	h := [2]uint64{hashKey(d.s1, k), hashKey(d.s2, k)}
	if _, ok := d.m[h]; ok {
		return false
	}
	d.m[h] = struct{}{}
	return true
}

func hashKey(seed maphash.Seed, k Key) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(k.IDType)
	h.WriteByte(0)
	h.WriteString(k.UserID)
	return h.Sum64()
}

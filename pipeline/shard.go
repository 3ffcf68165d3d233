package pipeline

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects the subjects of shard Index of Count: those whose stable hash
// of (id_type, user_id) modulo Count is Index. The zero value and 0/1 select
// everything.
type Shard struct {
	Index int
	Count int
}

// ParseShard parses "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) String() string {
	if s.Count == 0 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Sharded reports whether the run is split across more than one shard.
func (s Shard) Sharded() bool { return s.Count > 1 }

// Owns reports whether k belongs to this shard. The hash is FNV-1a 64 over
// the key's id_type, a zero byte and its user_id (folded, see KeyOf), so
// every process agrees on it and one person's e-mail written in two cases
// lands in one shard.
func (s Shard) Owns(k Key) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(k.IDType))
	h.Write([]byte{0})
	h.Write([]byte(k.UserID))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

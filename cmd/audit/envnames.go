package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The variables audit knows are Config's env tags, plus these, read
// elsewhere. Names that start with AUDIT_TEST_ belong to the test suite
// (AUDIT_TEST_DATABASE_URL, AUDIT_TEST_REQUIRE_ALL), not to the program: a
// developer's shell may export them, so the program ignores them rather
// than refusing to run. Every other AUDIT_* or GENAUTH_* variable in the
// environment is a mistake, most likely a misspelling, and is reported
// with the nearest known name.
var (
	variablesReadElsewhere = []string{}
	testVariablePrefix     = "AUDIT_TEST_"
)

// knownVariables is the set of variable names audit reads.
var knownVariables = sync.OnceValue(func() map[string]bool {
	known := map[string]bool{}
	for _, f := range configFields() {
		known[f.env] = true
	}
	for _, n := range variablesReadElsewhere {
		known[n] = true
	}
	return known
})

// unknownVariables reports every AUDIT_* or GENAUTH_* variable of the
// environment that audit does not read, naming the nearest known one.
func unknownVariables(envMap map[string]string) []error {
	var names []string
	for k := range envMap {
		if (strings.HasPrefix(k, "AUDIT_") || strings.HasPrefix(k, "GENAUTH_")) &&
			!strings.HasPrefix(k, testVariablePrefix) && !knownVariables()[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []error
	for _, k := range names {
		near, d := nearest(k, knownVariables())
		msg := fmt.Sprintf("not a variable audit reads; did you mean %s?", near)
		if d > max(3, len(k)/3) {
			msg = fmt.Sprintf("not a variable audit reads (the nearest is %s; audit run -h and audit report -h list them all)", near)
		}
		out = append(out, &problem{Var: k, Msg: msg})
	}
	return out
}

// nearest returns the candidate closest to s by edit distance (adjacent
// transpositions count as one edit), and that distance; ties go to the
// alphabetically first. A candidate that s extends by a word
// (AUDIT_RATE_LIMIT, AUDIT_RATE) counts as two edits away, one that has s's
// first and last words (GENAUTH_SECRET, GENAUTH_ACCESS_KEY_SECRET) three.
func nearest(s string, candidates map[string]bool) (string, int) {
	best, bestD := "", -1
	for c := range candidates {
		d := editDistance(s, c)
		if strings.HasPrefix(s, c+"_") || strings.HasPrefix(s, c+"-") {
			d = min(d, 2)
		}
		if first, last, ok := ends(s); ok && strings.HasPrefix(c, first+"_") && strings.HasSuffix(c, "_"+last) {
			d = min(d, 3)
		}
		if bestD < 0 || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// ends returns the first and last words of an underscore-separated name.
func ends(s string) (first, last string, ok bool) {
	i, j := strings.Index(s, "_"), strings.LastIndex(s, "_")
	if i <= 0 || j >= len(s)-1 {
		return "", "", false
	}
	return s[:i], s[j+1:], true
}

package genauthtest

import (
	"sync"
	"sync/atomic"
)

// Counters are what a Server has seen since it started or since the last
// ResetCounters. A subject is the pair (userIdType, userId) as received,
// userIdType defaulting to "user_id".
type Counters struct {
	// Requests counts every call to get-user-mfa-info (all attempts,
	// faulted, rejected or answered).
	Requests int64
	// Per endpoint: TokenCalls (get-management-token), ListCalls
	// (list-users), OtherCalls (any other path or a 404).
	TokenCalls, ListCalls, OtherCalls int64
	// TokenExchanges are successful token exchanges; TokenRefusals are
	// exchanges refused for bad credentials.
	TokenExchanges, TokenRefusals int64

	// InFlight is the number of get-user-mfa-info calls being handled now;
	// MaxInFlight the highest it has been.
	InFlight, MaxInFlight int64

	// Answered is the number of subjects given a final answer (body
	// statusCode 200, 404 or 400, or a refusal switch's answer) at least once; AnsweredTwice the number
	// given one more than once; Answers the final answers in total.
	Answered, AnsweredTwice, Answers int64
	// Final answers by kind.
	OK, NotFound, Invalid int64

	// Unauthorized counts 401 answers (body or HTTP); Forbidden the calls
	// with missing or wrong x-*-userpool-id headers; MethodNotAllowed 405s.
	Unauthorized, Forbidden, MethodNotAllowed int64
	// Refusal switches: Denied counts permission errors (Faults.Forbidden,
	// Faults.ForbiddenRate), EndpointMissing the HTML 404s (Faults.HTML404).
	Denied, EndpointMissing int64

	// Faults injected: Throttled counts every 429 (HTTP, body and MaxRPS),
	// RateLimited the MaxRPS ones alone; ServerErrors counts HTTP 5xx and
	// body 500; then resets, malformed bodies and slow answers.
	Throttled, RateLimited, ServerErrors, Resets, Malformed, Slow int64
}

type counters struct {
	requests, tokenCalls, listCalls, otherCalls atomic.Int64
	tokenExchanges, tokenRefusals               atomic.Int64
	inFlight, maxInFlight                       atomic.Int64
	answered, answeredTwice, answers            atomic.Int64
	ok, notFound, invalid                       atomic.Int64
	unauthorized, forbidden, methodNotAllowed   atomic.Int64
	throttled, rateLimited, serverErrors        atomic.Int64
	resets, malformed, slow                     atomic.Int64
	denied, endpointMissing                     atomic.Int64
}

func (c *counters) all() []*atomic.Int64 {
	return []*atomic.Int64{
		&c.requests, &c.tokenCalls, &c.listCalls, &c.otherCalls,
		&c.tokenExchanges, &c.tokenRefusals,
		&c.inFlight, &c.maxInFlight,
		&c.answered, &c.answeredTwice, &c.answers,
		&c.ok, &c.notFound, &c.invalid,
		&c.unauthorized, &c.forbidden, &c.methodNotAllowed,
		&c.throttled, &c.rateLimited, &c.serverErrors,
		&c.resets, &c.malformed, &c.slow,
		&c.denied, &c.endpointMissing,
	}
}

// enter counts one more MFA call in flight and raises the maximum.
func (c *counters) enter() {
	n := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			return
		}
	}
}

func (c *counters) leave() { c.inFlight.Add(-1) }

// Counters returns a snapshot of the counters (each read atomically; the
// set is not one instant).
func (s *Server) Counters() Counters {
	c := &s.ctrs
	return Counters{
		Requests:         c.requests.Load(),
		TokenCalls:       c.tokenCalls.Load(),
		ListCalls:        c.listCalls.Load(),
		OtherCalls:       c.otherCalls.Load(),
		TokenExchanges:   c.tokenExchanges.Load(),
		TokenRefusals:    c.tokenRefusals.Load(),
		InFlight:         c.inFlight.Load(),
		MaxInFlight:      c.maxInFlight.Load(),
		Answered:         c.answered.Load(),
		AnsweredTwice:    c.answeredTwice.Load(),
		Answers:          c.answers.Load(),
		OK:               c.ok.Load(),
		NotFound:         c.notFound.Load(),
		Invalid:          c.invalid.Load(),
		Unauthorized:     c.unauthorized.Load(),
		Forbidden:        c.forbidden.Load(),
		Denied:           c.denied.Load(),
		EndpointMissing:  c.endpointMissing.Load(),
		MethodNotAllowed: c.methodNotAllowed.Load(),
		Throttled:        c.throttled.Load(),
		RateLimited:      c.rateLimited.Load(),
		ServerErrors:     c.serverErrors.Load(),
		Resets:           c.resets.Load(),
		Malformed:        c.malformed.Load(),
		Slow:             c.slow.Load(),
	}
}

// ResetCounters zeroes the counters (InFlight excepted: it tracks calls
// still running; MaxInFlight restarts from it) and forgets every subject's
// attempts and answers, so fault draws start as on a new server. Tokens
// stay valid.
func (s *Server) ResetCounters() {
	c := &s.ctrs
	for _, a := range c.all() {
		if a != &c.inFlight {
			a.Store(0)
		}
	}
	c.maxInFlight.Store(c.inFlight.Load())
	s.subjects.reset()
}

// AnsweredSubjects returns, for every subject given a final answer, the
// number of final answers, keyed "idType\x00userId". It returns nil when
// Options.ForgetSubjects is set.
func (s *Server) AnsweredSubjects() map[string]int {
	return s.subjects.answered()
}

// Attempts returns how many get-user-mfa-info calls of subject (idType,
// userID) passed the token check and the MaxRPS limit; these are the
// attempts Options.FaultAttempts counts. idType "" means "user_id".
func (s *Server) Attempts(idType, userID string) int {
	if idType == "" {
		idType = "user_id"
	}
	return int(s.subjects.get(subjectHash(idType, userID)).attempts)
}

// SubjectKey is the key AnsweredSubjects uses for a subject.
func SubjectKey(idType, userID string) string { return idType + "\x00" + userID }

// subjectHash is FNV-1a 64 over idType, NUL, userID, without allocating.
func subjectHash(idType, userID string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(idType); i++ {
		h ^= uint64(idType[i])
		h *= prime
	}
	h *= prime // the NUL separator: h ^= 0 is a no-op
	for i := 0; i < len(userID); i++ {
		h ^= uint64(userID[i])
		h *= prime
	}
	return h
}

// subjectTable is per-subject state in a sharded map keyed by subjectHash
// (a 64-bit hash: collisions among millions of subjects are negligible).
const numShards = 128

type subjectState struct {
	attempts uint32 // every attempt ever: fault draws depend on it
	streak   uint32 // attempts since the last final answer: the FaultAttempts window
	answers  uint32
	name     string // SubjectKey, when names are kept
}

type subjectShard struct {
	mu sync.Mutex
	m  map[uint64]subjectState
	_  [48]byte // keep shards on separate cache lines
}

type subjectTable struct {
	keepNames bool
	shards    [numShards]subjectShard
}

func (t *subjectTable) init(keepNames bool) {
	t.keepNames = keepNames
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]subjectState)
	}
}

func (t *subjectTable) shard(h uint64) *subjectShard { return &t.shards[(h>>32^h)%numShards] }

// attempt records one more attempt of a subject and returns how many came
// before it in all, and since its last final answer (or settle).
func (t *subjectTable) attempt(h uint64, idType, userID string) (n, streak uint32) {
	sh := t.shard(h)
	sh.mu.Lock()
	st, ok := sh.m[h]
	if !ok && t.keepNames {
		st.name = SubjectKey(idType, userID)
	}
	n, streak = st.attempts, st.streak
	st.attempts++
	st.streak++
	sh.m[h] = st
	sh.mu.Unlock()
	return n, streak
}

// settle ends a subject's streak of attempts without counting an answer
// (a list-users page or a token served): the next attempt may meet faults
// again.
func (t *subjectTable) settle(h uint64) {
	sh := t.shard(h)
	sh.mu.Lock()
	if st, ok := sh.m[h]; ok {
		st.streak = 0
		sh.m[h] = st
	}
	sh.mu.Unlock()
}

// answer records one more final answer and returns how many there are now.
func (t *subjectTable) answer(h uint64, idType, userID string) uint32 {
	sh := t.shard(h)
	sh.mu.Lock()
	st, ok := sh.m[h]
	if !ok && t.keepNames {
		st.name = SubjectKey(idType, userID)
	}
	st.answers++
	st.streak = 0
	n := st.answers
	sh.m[h] = st
	sh.mu.Unlock()
	return n
}

func (t *subjectTable) get(h uint64) subjectState {
	sh := t.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[h]
}

func (t *subjectTable) reset() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

func (t *subjectTable) answered() map[string]int {
	if !t.keepNames {
		return nil
	}
	out := make(map[string]int)
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, st := range sh.m {
			if st.answers > 0 {
				out[st.name] = int(st.answers)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

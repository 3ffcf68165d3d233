package genauth

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive limiter tuning.
const (
	limiterFloor    = 1.0             // requests per second, the lowest rate
	limiterInterval = time.Second     // the shortest window the throttle share is judged over
	limiterMaxWin   = 5 * time.Second // a window ends by then even with few answers
	limiterMinAns   = 20              // answers a window wants before limiterMaxWin
	limiterHold     = 2 * time.Second // no increase until this long after the last decrease
	// A window whose share of 429s reaches limiterHigh lowers the rate (by
	// that share, at most by half); one at or below limiterLow lets it climb.
	// In between the rate holds: a steady trickle of 429s that lowering the
	// rate would not cure (a flaky gateway, a server that throttles at
	// random) must not starve the run.
	limiterHigh = 0.25
	limiterLow  = 0.05
	// limiterStart is where a limiter without a ceiling starts limiting when
	// it must before any success rate could be measured.
	limiterStart = 10.0
)

// adaptiveLimiter is the rate limiter shared by every request of a Client:
// a golang.org/x/time/rate limiter whose rate follows the API's answers.
// Answers are judged in windows of at least limiterInterval: when a
// window's share of 429s is limiterHigh or more, the rate falls (sustained
// throttling: we are over the API's limit); when it is limiterLow or less,
// the rate climbs back additively towards the ceiling, after limiterHold.
// Without a ceiling it lets everything through until throttling is
// sustained, then starts at the success rate it measured, and lets go
// again once it has climbed well above what the API accepts. Safe for
// concurrent use; it reads time.Now, so it is tested in a testing/synctest
// bubble.
type adaptiveLimiter struct {
	lim     *rate.Limiter
	ceiling float64 // 0: none
	log     *slog.Logger

	mu           sync.Mutex
	cur          float64 // the rate now; 0 = unlimited
	lastDecrease time.Time
	// the current window: answers and 429s since winStart
	winStart  time.Time
	winOK     int
	winThrott int
	lastRate  float64 // success rate of the previous window
}

func newAdaptiveLimiter(ceiling float64, log *slog.Logger) *adaptiveLimiter {
	l := &adaptiveLimiter{ceiling: ceiling, cur: ceiling, log: log, winStart: time.Now()}
	if ceiling > 0 {
		l.lim = rate.NewLimiter(rate.Limit(ceiling), burstFor(ceiling))
	} else {
		l.lim = rate.NewLimiter(rate.Inf, 1)
	}
	return l
}

// burstFor is the bucket size for rate r: one request, or 20 ms worth of
// requests at high rates so that timer granularity does not cost throughput.
func burstFor(r float64) int {
	return max(1, int(r/50))
}

// Wait blocks until the next request may go, or ctx is done. Do not give ctx
// a short deadline: rate.Limiter.Wait fails at once when the deadline is
// nearer than the next token.
func (l *adaptiveLimiter) Wait(ctx context.Context) error {
	return l.lim.Wait(ctx)
}

// Rate is the current rate in requests per second; 0 means no limit.
func (l *adaptiveLimiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// setLocked applies rate r (0: unlimited) to the underlying limiter.
func (l *adaptiveLimiter) setLocked(r float64) {
	l.cur = r
	if r == 0 {
		l.lim.SetLimit(rate.Inf)
		return
	}
	l.lim.SetBurst(burstFor(r))
	l.lim.SetLimit(rate.Limit(r))
}

// Throttled records a 429 answer.
func (l *adaptiveLimiter) Throttled() { l.observe(true) }

// Succeeded records an answer that was not a 429.
func (l *adaptiveLimiter) Succeeded() { l.observe(false) }

// observe counts one answer and, when the window is over, adjusts the rate.
func (l *adaptiveLimiter) observe(throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if throttled {
		l.winThrott++
	} else {
		l.winOK++
	}
	now := time.Now()
	el := now.Sub(l.winStart)
	n := l.winOK + l.winThrott
	if el < limiterInterval || (n < limiterMinAns && el < limiterMaxWin) {
		return
	}
	share := float64(l.winThrott) / float64(n)
	okRate := float64(l.winOK) / el.Seconds()
	l.winStart, l.winOK, l.winThrott = now, 0, 0
	l.lastRate = okRate
	switch {
	case share >= limiterHigh:
		l.decreaseLocked(now, share, okRate)
	case share <= limiterLow:
		l.increaseLocked(now, okRate)
	}
}

// decreaseLocked lowers the rate by the share of 429s (at most by half),
// never below limiterFloor.
func (l *adaptiveLimiter) decreaseLocked(now time.Time, share, okRate float64) {
	old := l.cur
	next := old * max(0.5, 1-share)
	if old == 0 {
		next = okRate
		if next <= 0 {
			next = limiterStart
		}
	}
	next = max(limiterFloor, next)
	l.lastDecrease = now
	if next == old {
		return
	}
	l.setLocked(next)
	l.log.Warn("genauth: API throttling (429), lowering the request rate",
		slog.Float64("from_rps", round2(old)), slog.Float64("to_rps", round2(next)),
		slog.Float64("throttled_share", round2(share)))
}

// increaseLocked raises the rate back towards the ceiling by a twentieth of
// the ceiling (at least 0.5 rps) per window, once the last decrease is
// limiterHold old. Without a ceiling it climbs by a tenth per window and
// lets go once the rate is twice the measured success rate.
func (l *adaptiveLimiter) increaseLocked(now time.Time, okRate float64) {
	if l.cur == 0 || (l.ceiling > 0 && l.cur >= l.ceiling) || now.Sub(l.lastDecrease) < limiterHold {
		return
	}
	old := l.cur
	var next float64
	if l.ceiling > 0 {
		next = min(l.ceiling, old+max(0.5, l.ceiling/20))
	} else {
		next = old + max(1, old/10)
		if okRate > 0 && next > 2*okRate {
			next = 0 // the limiter no longer binds: let go
		}
	}
	l.setLocked(next)
	l.log.Debug("genauth: raising the request rate",
		slog.Float64("from_rps", round2(old)), slog.Float64("to_rps", round2(next)))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

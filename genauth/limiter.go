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
	limiterDecrease = 0.7             // rate *= limiterDecrease on a 429
	limiterFloor    = 1.0             // requests per second, the lowest rate
	limiterInterval = time.Second     // at most one decrease, and one increase, per interval
	limiterHold     = 2 * time.Second // no increase until this long after the last decrease
	limiterWindow   = 2 * time.Second // window over which the success rate is measured
	// limiterStart is where a limiter without a ceiling starts limiting when
	// the first 429 arrives before any success rate could be measured.
	limiterStart = 10.0
)

// adaptiveLimiter is the rate limiter shared by every request of a Client:
// a golang.org/x/time/rate limiter whose rate falls multiplicatively on 429s
// (once per interval at most, never below limiterFloor) and climbs back
// additively on successes, up to the ceiling. Without a ceiling it lets
// everything through until the first 429, then starts at the success rate
// it measured, and lets go again once it has climbed well above what the
// API accepts without 429s. Safe for concurrent use; it reads time.Now, so
// it is tested in a testing/synctest bubble.
type adaptiveLimiter struct {
	lim     *rate.Limiter
	ceiling float64 // 0: none
	log     *slog.Logger

	mu           sync.Mutex
	cur          float64 // the rate now; 0 = unlimited
	lastDecrease time.Time
	lastIncrease time.Time
	// success rate measurement: successes since winStart, and the rate
	// measured over the previous window.
	winStart time.Time
	winCount int
	lastRate float64
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

// observedLocked is the success rate measured lately (0 when unknown).
func (l *adaptiveLimiter) observedLocked(now time.Time) float64 {
	if el := now.Sub(l.winStart); el >= limiterWindow/4 {
		return max(l.lastRate, float64(l.winCount)/el.Seconds())
	}
	return l.lastRate
}

// Throttled records a 429 and lowers the rate, at most once per interval.
func (l *adaptiveLimiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.lastDecrease.IsZero() && now.Sub(l.lastDecrease) < limiterInterval {
		return
	}
	old := l.cur
	var next float64
	if old == 0 {
		next = l.observedLocked(now)
		if next <= 0 {
			next = limiterStart
		}
	} else {
		next = old * limiterDecrease
	}
	next = max(limiterFloor, next)
	l.lastDecrease = now
	if next == old {
		return
	}
	l.setLocked(next)
	l.log.Warn("genauth: API throttling (429), lowering the request rate",
		slog.Float64("from_rps", round2(old)), slog.Float64("to_rps", round2(next)))
}

// Succeeded records a success and raises the rate back towards the ceiling:
// by a twentieth of the ceiling (at least 0.5 rps) per interval, once the
// last decrease is limiterHold old. Without a ceiling it climbs by a tenth
// per interval and lets go once the rate is twice the measured success rate.
func (l *adaptiveLimiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if el := now.Sub(l.winStart); el >= limiterWindow {
		l.lastRate = float64(l.winCount) / el.Seconds()
		l.winStart, l.winCount = now, 0
	}
	l.winCount++

	if l.cur == 0 || (l.ceiling > 0 && l.cur >= l.ceiling) {
		return // nothing to recover
	}
	if now.Sub(l.lastDecrease) < limiterHold || now.Sub(l.lastIncrease) < limiterInterval {
		return
	}
	l.lastIncrease = now
	old := l.cur
	var next float64
	if l.ceiling > 0 {
		next = min(l.ceiling, old+max(0.5, l.ceiling/20))
	} else {
		next = old + max(1, old/10)
		if obs := l.observedLocked(now); obs > 0 && next > 2*obs {
			next = 0 // the limiter no longer binds: let go
		}
	}
	l.setLocked(next)
	l.log.Debug("genauth: raising the request rate",
		slog.Float64("from_rps", round2(old)), slog.Float64("to_rps", round2(next)))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

package genauth

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoffBase is the ceiling of the first backoff; it doubles per retry.
const backoffBase = 200 * time.Millisecond

// backoffCeil is the largest wait before retry n (0 for the first retry):
// backoffBase * 2^n, capped at maxWait.
func backoffCeil(n int, maxWait time.Duration) time.Duration {
	if n < 0 {
		n = 0
	}
	f := float64(backoffBase) * math.Pow(2, float64(n))
	if f >= float64(maxWait) {
		return maxWait
	}
	return time.Duration(f)
}

// fullJitter draws a wait uniformly from [0, ceil] ("full jitter"), so that
// workers throttled together do not come back together.
func fullJitter(ceil time.Duration, int64N func(int64) int64) time.Duration {
	if ceil <= 0 {
		return 0
	}
	if int64N == nil {
		int64N = rand.Int64N
	}
	return time.Duration(int64N(int64(ceil) + 1))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// ok is false when the header is absent or unreadable. A date in the past
// is a zero wait.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(secs) || secs < 0 {
			return 0, false
		}
		if secs > float64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}

// retryWait is the wait before retry n: the server's Retry-After when it
// sent one, else the jittered exponential backoff; both capped at maxWait.
func retryWait(n int, header http.Header, maxWait time.Duration, int64N func(int64) int64) (d time.Duration, fromServer bool) {
	if header != nil {
		if ra, ok := parseRetryAfter(header.Get("Retry-After"), time.Now()); ok {
			return min(ra, maxWait), true
		}
	}
	return fullJitter(backoffCeil(n, maxWait), int64N), false
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

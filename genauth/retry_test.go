package genauth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestBackoffCeil(t *testing.T) {
	const capWait = 5 * time.Second
	tests := []struct {
		n    int
		want time.Duration
	}{
		{-1, 200 * time.Millisecond},
		{0, 200 * time.Millisecond},
		{1, 400 * time.Millisecond},
		{2, 800 * time.Millisecond},
		{3, 1600 * time.Millisecond},
		{4, 3200 * time.Millisecond},
		{5, capWait},
		{62, capWait},
		{10000, capWait},
	}
	for _, tt := range tests {
		if got := backoffCeil(tt.n, capWait); got != tt.want {
			t.Errorf("backoffCeil(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestFullJitterBounds(t *testing.T) {
	const ceil = time.Second
	if got := fullJitter(ceil, func(n int64) int64 { return n - 1 }); got != ceil {
		t.Errorf("largest draw = %v, want %v (the ceiling is included)", got, ceil)
	}
	if got := fullJitter(ceil, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("smallest draw = %v, want 0", got)
	}
	if got := fullJitter(0, nil); got != 0 {
		t.Errorf("zero ceiling = %v", got)
	}
	// Real randomness: all draws in [0, ceil], and spread over it (the chance
	// that 2000 uniform draws all miss a quarter of the range is nil).
	lo, hi := ceil, time.Duration(0)
	for range 2000 {
		d := fullJitter(ceil, nil)
		if d < 0 || d > ceil {
			t.Fatalf("draw %v out of [0, %v]", d, ceil)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > ceil/4 || hi < ceil*3/4 {
		t.Errorf("draws span only [%v, %v]: not full jitter", lo, hi)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"1e30", time.Duration(1<<63 - 1), true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Sat, 01 Mar 2025 12:00:10 GMT", 10 * time.Second, true},
		{"Saturday, 01-Mar-25 12:00:20 GMT", 20 * time.Second, true}, // RFC 850, still allowed
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// attemptClock records when each attempt reached the fake API.
type attemptClock struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
}

func (a *attemptClock) mark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, time.Since(a.start))
	return len(a.at)
}

func (a *attemptClock) gaps() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(a.at); i++ {
		g = append(g, a.at[i]-a.at[i-1])
	}
	return g
}

func TestBackoffGrowth(t *testing.T) {
	// With the jitter pinned to its top the waits are the ceilings: 200 ms,
	// doubling, capped at MaxRetryAfter.
	synctest.Test(t, func(t *testing.T) {
		clock := &attemptClock{start: time.Now()}
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			clock.mark()
			writeJSON(w, 503, "<html>unavailable</html>")
		}}
		c := newTestClient(t, Config{Retries: 5, MaxRetryAfter: time.Second}, api)
		c.int64N = func(n int64) int64 { return n - 1 }
		_, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		var e *Error
		if !errors.As(err, &e) || e.Class != ClassRetryable || e.Attempts != 6 || e.HTTPStatus != 503 {
			t.Fatalf("err = %v, want retryable after 6 attempts with HTTP 503", err)
		}
		want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
		if got := clock.gaps(); !equalDurations(got, want) {
			t.Errorf("waits = %v, want %v", got, want)
		}
		if s := c.Stats(); s.Requests != 6 || s.Retries != 5 {
			t.Errorf("stats = %+v, want 6 requests, 5 retries", s)
		}
	})
}

func TestBackoffJitter(t *testing.T) {
	// Real jitter: each wait within [0, ceiling]; over many subjects the
	// waits differ (workers throttled together do not come back together).
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		clocks := map[string]*attemptClock{}
		start := time.Now()
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			ac := clocks[r.URL.Query().Get("userId")]
			if ac == nil {
				ac = &attemptClock{start: start}
				clocks[r.URL.Query().Get("userId")] = ac
			}
			mu.Unlock()
			if ac.mark() <= 3 {
				writeJSON(w, 200, `{"statusCode":503,"message":"busy"}`)
				return
			}
			writeJSON(w, 200, mfaOK)
		}}
		c := newTestClient(t, Config{Retries: 5, Concurrency: 50}, api)
		c.int64N = nil // real randomness
		mustAuth(t, c)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u"+string(rune('A'+i))); err != nil {
					t.Errorf("GetUserMFAInfo: %v", err)
				}
			})
		}
		wg.Wait()
		distinct := map[time.Duration]bool{}
		for id, ac := range clocks {
			for i, g := range ac.gaps() {
				if ceil := backoffCeil(i, DefaultMaxRetryAfter); g < 0 || g > ceil {
					t.Errorf("%s: wait %d = %v, outside [0, %v]", id, i, g, ceil)
				}
				distinct[g] = true
			}
		}
		if len(distinct) < 10 {
			t.Errorf("only %d distinct waits over 120 retries: no jitter?", len(distinct))
		}
	})
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		maxWait    time.Duration
		want       time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 30 * time.Second, 7 * time.Second},
		{"seconds capped", func(time.Time) string { return "3600" }, 30 * time.Second, 30 * time.Second},
		{"date", func(now time.Time) string { return now.Add(12 * time.Second).UTC().Format(http.TimeFormat) }, 30 * time.Second, 12 * time.Second},
		{"date capped", func(now time.Time) string { return now.Add(time.Hour).UTC().Format(http.TimeFormat) }, 5 * time.Second, 5 * time.Second},
		{"date in the past", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, 30 * time.Second, 0},
		{"unreadable: backoff instead", func(time.Time) string { return "later" }, 30 * time.Second, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// HTTP dates have whole seconds: start on one.
				time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
				clock := &attemptClock{start: time.Now()}
				api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
					if clock.mark() == 1 {
						w.Header().Set("Retry-After", tt.retryAfter(time.Now()))
						writeJSON(w, 429, "<html>slow down</html>")
						return
					}
					writeJSON(w, 200, mfaOK)
				}}
				c := newTestClient(t, Config{MaxRetryAfter: tt.maxWait}, api)
				c.int64N = func(n int64) int64 { return n - 1 }
				mustAuth(t, c)
				info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
				if err != nil || info.Attempts != 2 {
					t.Fatalf("GetUserMFAInfo = %+v, %v; want success in 2 attempts", info, err)
				}
				if got := clock.gaps(); len(got) != 1 || got[0] != tt.want {
					t.Errorf("wait = %v, want %v", got, tt.want)
				}
				if s := c.Stats(); s.Throttled != 1 {
					t.Errorf("Throttled = %d, want 1", s.Throttled)
				}
			})
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	tests := []struct {
		retries      int
		wantAttempts int
	}{
		{0, 6}, // default 5
		{2, 3},
		{-1, 1},
	}
	for _, tt := range tests {
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"statusCode":502,"message":"bad gateway","requestId":"r-502"}`)
		}}
		c := newTestClient(t, Config{Retries: tt.retries}, api)
		_, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		var e *Error
		if !errors.As(err, &e) || e.Class != ClassRetryable || e.Attempts != tt.wantAttempts ||
			e.StatusCode != 502 || e.Message != "bad gateway" || e.RequestID != "r-502" {
			t.Errorf("Retries %d: err = %#v, want retryable after %d attempts with the last answer's details", tt.retries, err, tt.wantAttempts)
		}
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

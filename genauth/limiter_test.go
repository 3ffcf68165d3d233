package genauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var discard = slog.New(slog.DiscardHandler)

func TestLimiterAchievedRate(t *testing.T) {
	for _, r := range []float64{2, 20, 100, 1000} {
		t.Run(fmt.Sprintf("%vrps", r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const window = 10 * time.Second
				l := newAdaptiveLimiter(r, discard)
				ctx, cancel := context.WithTimeout(context.Background(), window)
				defer cancel()
				var n atomic.Int64
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						for l.Wait(ctx) == nil {
							n.Add(1)
						}
					})
				}
				wg.Wait()
				want := r * window.Seconds()
				got := float64(n.Load())
				// At most the rate plus the initial burst; at least 99 %.
				if got > want+float64(burstFor(r)) || got < 0.99*want {
					t.Errorf("%v requests in %v at %v rps, want about %v", got, window, r, want)
				}
				if l.Rate() != r {
					t.Errorf("Rate() = %v, want %v", l.Rate(), r)
				}
			})
		})
	}
}

func TestLimiterNoCeilingDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newAdaptiveLimiter(0, discard)
		start := time.Now()
		for range 10000 {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("10000 waits took %v without a ceiling", el)
		}
		if l.Rate() != 0 {
			t.Errorf("Rate() = %v, want 0", l.Rate())
		}
	})
}

// feed sends one window of answers spread over limiterInterval: ok
// successes and throttled 429s, interleaved.
func feed(l *adaptiveLimiter, ok, throttled int) {
	n := ok + throttled
	step := limiterInterval / time.Duration(n)
	// Spread the 429s evenly: answer i is a 429 when the running count of
	// 429s due, i*throttled/n rounded down, steps up.
	for i := range n {
		time.Sleep(step)
		if (i+1)*throttled/n > i*throttled/n {
			l.Throttled()
			continue
		}
		l.Succeeded()
	}
}

func TestLimiterDecreaseAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		l := newAdaptiveLimiter(20, logs.logger())

		// A steady 10 % of 429s that lowering the rate would not cure: hold.
		for range 10 {
			feed(l, 18, 2)
		}
		if got := l.Rate(); got != 20 {
			t.Fatalf("after 10 s of 10 %% random 429s: %v rps, want the ceiling 20 held", got)
		}
		// Half the answers throttled: halve.
		feed(l, 10, 10)
		if got := l.Rate(); got != 10 {
			t.Fatalf("after a window of 50 %% 429s: %v rps, want 10", got)
		}
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "to_rps=10") {
			t.Errorf("no warning when lowering the rate; logs:\n%s", logs.String())
		}
		// 30 %: cut by 30 %.
		feed(l, 14, 6)
		if got := l.Rate(); got < 6.99 || got > 7.01 {
			t.Fatalf("after a window of 30 %% 429s: %v rps, want 7", got)
		}
		for range 10 {
			feed(l, 0, 20)
		}
		if got := l.Rate(); got != limiterFloor {
			t.Fatalf("after sustained 429s: %v rps, want the floor %v", got, limiterFloor)
		}

		// Successes: no increase during the hold, then a twentieth of the
		// ceiling per window, up to the ceiling and no further.
		prev := l.Rate()
		for i := range 40 {
			feed(l, 20, 0)
			got := l.Rate()
			if got < prev || got > 20 || got-prev > 1 {
				t.Fatalf("window %d: rate %v -> %v: want a climb of at most 1 rps per window, up to 20", i, prev, got)
			}
			if i == 0 && got != prev {
				t.Fatalf("raised within the hold after a decrease: %v -> %v", prev, got)
			}
			prev = got
		}
		if got := l.Rate(); got != 20 {
			t.Errorf("after 40 s of successes: %v rps, want back at the ceiling 20", got)
		}
		// Few answers: a window waits for limiterMinAns or limiterMaxWin.
		l.Throttled()
		time.Sleep(limiterInterval)
		l.Throttled()
		if got := l.Rate(); got != 20 {
			t.Errorf("two 429s in a thin window cut the rate to %v", got)
		}
	})
}

func TestLimiterNoCeilingAdapts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newAdaptiveLimiter(0, discard)
		// 50 successes per second with 10 % random 429s: no limit.
		for range 5 {
			feed(l, 45, 5)
		}
		if got := l.Rate(); got != 0 {
			t.Fatalf("random 10 %% 429s without a ceiling: %v rps, want no limit", got)
		}
		// Sustained throttling: it starts limiting at the success rate.
		feed(l, 30, 20)
		limited := l.Rate()
		if limited < 25 || limited > 35 {
			t.Fatalf("first sustained throttling without a ceiling: %v rps, want about the 30 rps that succeeded", limited)
		}
		// Successes at the limiter's own pace: it climbs gradually.
		ctx := context.Background()
		for range 5 * int(limited) {
			_ = l.Wait(ctx)
			l.Succeeded()
		}
		if got := l.Rate(); got <= limited {
			t.Fatalf("no climb after 5 s of successes: %v rps", got)
		}
		// The API now answers far slower than the limiter allows: the
		// limiter no longer binds and lets go.
		for range 100 {
			time.Sleep(200 * time.Millisecond)
			l.Succeeded()
		}
		if got := l.Rate(); got != 0 {
			t.Errorf("after 20 s at 5 rps below the limit: %v rps, want 0 (no ceiling again)", got)
		}
	})
}

// TestClientAdaptsToSustained429 runs workers against an API that accepts
// 10 requests per second and throttles the rest, then stops throttling.
func TestClientAdaptsToSustained429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ceiling = 50
		start := time.Now()
		var (
			mu        sync.Mutex
			window    []time.Time // accepted requests in the last second
			unlimited bool
			attempts  [80]int // per second since start
			throttled [80]int
		)
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			now := time.Now()
			sec := int(now.Sub(start) / time.Second)
			attempts[sec]++
			for len(window) > 0 && now.Sub(window[0]) >= time.Second {
				window = window[1:]
			}
			over := !unlimited && len(window) >= 10
			if over {
				throttled[sec]++
			} else {
				window = append(window, now)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // latency
			if over {
				writeJSON(w, 200, `{"statusCode":429,"message":"您的请求已超过最大数量限制，请稍后重试"}`)
				return
			}
			writeJSON(w, 200, mfaOK)
		}}
		var logs logBuffer
		c := newTestClient(t, Config{Rate: ceiling, Concurrency: 8, Logger: logs.logger()}, api)
		c.int64N = nil // real jitter
		mustAuth(t, c)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, _ = c.GetUserMFAInfo(ctx, "user_id", "u")
				}
			})
		}
		time.Sleep(30 * time.Second)
		lowered := c.Stats().CurrentRate
		mu.Lock()
		unlimited = true
		mu.Unlock()
		time.Sleep(40 * time.Second)
		recovered := c.Stats().CurrentRate
		cancel()
		wg.Wait()

		if lowered > 20 {
			t.Errorf("rate after 30 s of an API that takes 10 rps: %v, want lowered near 10", lowered)
		}
		if recovered != ceiling {
			t.Errorf("rate 40 s after throttling stopped: %v, want back at %v", recovered, ceiling)
		}
		if !strings.Contains(logs.String(), "lowering the request rate") {
			t.Error("no warning logged when lowering the rate")
		}
		// Once adapted (seconds 15 to 30) most attempts get through.
		var a, th int
		for s := 15; s < 30; s++ {
			a += attempts[s]
			th += throttled[s]
		}
		if a == 0 || float64(th)/float64(a) > 0.35 {
			t.Errorf("seconds 15-30: %d of %d attempts throttled, want at most 35 %%", th, a)
		}
		// Once recovered (the last 10 s), the rate is the ceiling again.
		var late int
		for s := 60; s < 70; s++ {
			late += attempts[s]
		}
		if late < 0.9*ceiling*10 || late > ceiling*10+10 {
			t.Errorf("seconds 60-70: %d attempts, want about %d", late, ceiling*10)
		}
		t.Logf("rate lowered to %.2f; seconds 15-30: %d attempts, %d throttled; seconds 60-70: %d attempts", lowered, a, th, late)
	})
}

package genauthtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// classify names what a client saw, for fault assertions.
func classify(r reply) string {
	switch {
	case r.err != nil:
		var ne net.Error
		if errors.As(r.err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "conn-error"
	case r.status == 429:
		return "http429"
	case r.status >= 500:
		return "http5xx"
	case r.status != 200:
		return fmt.Sprintf("http%d", r.status)
	case r.decErr != nil:
		return "malformed"
	}
	return fmt.Sprintf("body%d", r.body.StatusCode)
}

// isReset reports a connection reset by the server (SO_LINGER 0 makes the
// close an RST rather than a FIN, which would read as EOF).
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func TestEachFaultKind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		faults   Faults
		subjects int
		timeout  time.Duration
		check    func(t *testing.T, r reply)
		counter  func(Counters) int64
	}{
		{
			name: "throttle", faults: Faults{ThrottleRate: 1, RetryAfter: 1500 * time.Millisecond}, subjects: 6,
			check: func(t *testing.T, r reply) {
				if r.status != 429 || r.header.Get("Retry-After") != "2" || r.decErr == nil {
					t.Errorf("HTTP %d Retry-After %q body %q; want 429, 2, not JSON", r.status, r.header.Get("Retry-After"), r.raw)
				}
			},
			counter: func(c Counters) int64 { return c.Throttled },
		},
		{
			name: "throttle without Retry-After", faults: Faults{ThrottleRate: 1}, subjects: 2,
			check: func(t *testing.T, r reply) {
				if _, ok := r.header["Retry-After"]; r.status != 429 || ok {
					t.Errorf("HTTP %d header %v; want 429 without Retry-After", r.status, r.header)
				}
			},
			counter: func(c Counters) int64 { return c.Throttled },
		},
		{
			name: "body429", faults: Faults{BodyThrottleRate: 1}, subjects: 2,
			check: func(t *testing.T, r reply) {
				if r.status != 200 || r.body.StatusCode != 429 || r.body.Message != "您的请求已超过最大数量限制，请稍后重试" || r.body.APICode != nil {
					t.Errorf("HTTP %d %s; want HTTP 200, body statusCode 429, no apiCode", r.status, r.raw)
				}
			},
			counter: func(c Counters) int64 { return c.Throttled },
		},
		{
			name: "5xx", faults: Faults{ServerErrorRate: 1}, subjects: 6,
			check: func(t *testing.T, r reply) {
				if (r.status != 500 && r.status != 502 && r.status != 503) || r.decErr == nil ||
					!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.raw), "<html>") {
					t.Errorf("HTTP %d %q; want 500/502/503 with an HTML page", r.status, r.raw)
				}
			},
			counter: func(c Counters) int64 { return c.ServerErrors },
		},
		{
			name: "body500", faults: Faults{Body500Rate: 1}, subjects: 2,
			check: func(t *testing.T, r reply) {
				if r.status != 200 || r.body.StatusCode != 500 || r.body.Message != "服务器内部错误" {
					t.Errorf("HTTP %d %s; want HTTP 200, body statusCode 500", r.status, r.raw)
				}
			},
			counter: func(c Counters) int64 { return c.ServerErrors },
		},
		{
			name: "malformed", faults: Faults{MalformedRate: 1}, subjects: 8,
			check: func(t *testing.T, r reply) {
				if r.status != 200 || r.decErr == nil {
					t.Errorf("HTTP %d %q; want HTTP 200 with an undecodable body", r.status, r.raw)
				}
			},
			counter: func(c Counters) int64 { return c.Malformed },
		},
		{
			name: "reset", faults: Faults{ResetRate: 1}, subjects: 3,
			check: func(t *testing.T, r reply) {
				if r.err == nil || !isReset(r.err) {
					t.Errorf("err %v (HTTP %d); want a connection reset", r.err, r.status)
				}
			},
			counter: func(c Counters) int64 { return c.Resets },
		},
		{
			name: "slow", faults: Faults{SlowRate: 1, SlowDelay: time.Hour}, subjects: 1, timeout: 300 * time.Millisecond,
			check: func(t *testing.T, r reply) {
				if classify(r) != "timeout" {
					t.Errorf("%s (err %v); want a client timeout", classify(r), r.err)
				}
			},
			counter: func(c Counters) int64 { return c.Slow },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Options{Faults: tc.faults, Seed: 7})
			c := newTestClient(t, s)
			c.login()
			// A fresh connection per request: net/http retries a GET by
			// itself when a reused connection dies before any answer.
			c.hc.Transport.(*http.Transport).DisableKeepAlives = true
			if tc.timeout > 0 {
				c.hc.Timeout = tc.timeout
			}
			for i := range tc.subjects {
				id := fmt.Sprintf("user-%d", i)
				s.AddUser(User{UserID: id, TOTP: true})
				for attempt := 1; attempt <= 2; attempt++ {
					tc.check(t, c.mfa("user_id", id))
				}
				if m := statuses(t, c.mfa("user_id", id)); !bound(t, m["totpStatus"]) {
					t.Errorf("%s: third attempt %v", id, m)
				}
				if n := s.Attempts("user_id", id); n != 3 {
					t.Errorf("%s: server saw %d attempts, want 3", id, n)
				}
			}
			got := s.Counters()
			if n := tc.counter(got); n != int64(2*tc.subjects) {
				t.Errorf("fault counter %d, want %d", n, 2*tc.subjects)
			}
			if got.Answered != int64(tc.subjects) || got.AnsweredTwice != 0 || got.OK != int64(tc.subjects) {
				t.Errorf("answered %d (twice %d, ok %d); want %d once each", got.Answered, got.AnsweredTwice, got.OK, tc.subjects)
			}
		})
	}
}

func TestFaultAttempts(t *testing.T) {
	all := Faults{ThrottleRate: 0.2, BodyThrottleRate: 0.2, ServerErrorRate: 0.2, Body500Rate: 0.2, MalformedRate: 0.1, ResetRate: 0.1}
	for _, tc := range []struct {
		faultAttempts int
		faulted       int // attempts of each subject that must fail
	}{
		{0, 2}, // default
		{1, 1},
		{4, 4},
		{-1, 6}, // every attempt
	} {
		t.Run(fmt.Sprint(tc.faultAttempts), func(t *testing.T) {
			s := startServer(t, Options{Faults: all, FaultAttempts: tc.faultAttempts, Seed: 42})
			c := newTestClient(t, s)
			c.login()
			c.hc.Transport.(*http.Transport).DisableKeepAlives = true
			kinds := map[string]int{}
			for i := range 25 {
				id := fmt.Sprintf("%d@example.com", i)
				s.AddUser(User{UserID: fmt.Sprint(i), Email: id})
				// The rates add up to 1: every attempt in the window is
				// faulted, the one after it is clean, and a final answer
				// opens a new window (a second run meets faults too).
				for attempt := 1; attempt <= 2*(tc.faulted+1); attempt++ {
					r := c.mfa("email", id)
					k := classify(r)
					kinds[k]++
					want := tc.faultAttempts >= 0 && attempt%(tc.faulted+1) == 0
					if clean := k == "body200"; clean != want {
						t.Fatalf("%s attempt %d: %s (HTTP %d %q)", id, attempt, k, r.status, r.raw)
					}
				}
			}
			for _, k := range []string{"http429", "http5xx", "body429", "body500", "malformed", "conn-error"} {
				if kinds[k] == 0 {
					t.Errorf("no %s among %v", k, kinds)
				}
			}
		})
	}
}

func TestListUsersFaults(t *testing.T) {
	s := startServer(t, Options{Faults: Faults{Body500Rate: 0.5, MalformedRate: 0.5}})
	s.AddUsers(User{UserID: "u1"}, User{UserID: "u2"})
	c := newTestClient(t, s)
	c.login()
	for _, page := range []string{
		`{"options":{"pagination":{"page":1,"limit":1}}}`,
		`{"options":{"pagination":{"page":2,"limit":1}}}`,
	} {
		for attempt := 1; attempt <= 3; attempt++ {
			k := classify(c.list(page))
			if clean := k == "body200"; clean != (attempt == 3) {
				t.Errorf("%s attempt %d: %s", page, attempt, k)
			}
		}
	}
	if got := s.Counters(); got.ServerErrors+got.Malformed != 4 || got.Requests != 0 || got.Answered != 0 {
		t.Errorf("counters %+v", got)
	}
}

func TestFaultsAreDeterministic(t *testing.T) {
	f := Faults{ThrottleRate: 0.3, Body500Rate: 0.3}
	run := func(seed int64) string {
		s := startServer(t, Options{Faults: f, Seed: seed, Synthesize: true})
		c := newTestClient(t, s)
		c.login()
		var b strings.Builder
		for i := range 40 {
			for range 2 {
				b.WriteString(classify(c.mfa("", fmt.Sprint("id", i))) + " ")
			}
		}
		return b.String()
	}
	a, b, other := run(1), run(1), run(2)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == other {
		t.Errorf("seeds 1 and 2 drew the same faults: %s", a)
	}
}

func TestMaxRPS(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Options{Now: clk.Now, Faults: Faults{MaxRPS: 3}, FaultAttempts: 1})
	s.AddUser(User{UserID: "u1"})
	c := newTestClient(t, s)
	c.login() // not limited: TokenFaults is off
	for i := range 3 {
		if r := c.mfa("", "u1"); r.status != 200 || r.body.StatusCode != 200 {
			t.Fatalf("call %d within the burst: HTTP %d %s", i+1, r.status, r.raw)
		}
	}
	r := c.mfa("", "u1")
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("over the limit: HTTP %d Retry-After %q; want 429, 1", r.status, r.header.Get("Retry-After"))
	}
	clk.Advance(400 * time.Millisecond) // 1.2 tokens
	if r := c.mfa("", "u1"); r.status != 200 {
		t.Fatalf("after a refill: HTTP %d", r.status)
	}
	if r := c.mfa("", "u1"); r.status != 429 {
		t.Fatalf("bucket empty again: HTTP %d", r.status)
	}
	got := s.Counters()
	if got.RateLimited != 2 || got.Throttled != 2 || got.Requests != 6 {
		t.Errorf("rate limited %d throttled %d requests %d; want 2, 2, 6", got.RateLimited, got.Throttled, got.Requests)
	}
	if n := s.Attempts("user_id", "u1"); n != 4 {
		t.Errorf("attempts %d; rate-limited calls must not count (want 4)", n)
	}
}

func TestTokenFaults(t *testing.T) {
	s := startServer(t, Options{Faults: Faults{ThrottleRate: 1}})
	c := newTestClient(t, s)
	c.login() // faults do not touch the token endpoint by default
	s.SetFaults(Faults{ThrottleRate: 1, TokenFaults: true})
	for i := range 2 {
		if r := c.exchange(s.PoolID, s.Secret); r.status != 429 {
			t.Fatalf("exchange %d with TokenFaults: HTTP %d %s", i+1, r.status, r.raw)
		}
	}
	c.login() // the third attempt is clean
	if got := s.Counters(); got.TokenExchanges != 2 || got.TokenCalls != 4 || got.Requests != 0 {
		t.Errorf("exchanges %d calls %d requests %d; want 2, 4, 0", got.TokenExchanges, got.TokenCalls, got.Requests)
	}
}

func TestLatency(t *testing.T) {
	s := NewUnstartedServer(Options{Faults: Faults{Latency: 50 * time.Millisecond}})
	waiting := make(chan struct{}, 2)
	s.onWait = func() { waiting <- struct{}{} }
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddUser(User{UserID: "u1"})
	c := newTestClient(t, s)
	c.login()
	start := time.Now()
	if r := c.mfa("", "u1"); r.body.StatusCode != 200 {
		t.Fatalf("%s", r.raw)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered after %v, before the latency of 50ms", d)
	}
	<-waiting

	// A wait ends when the client gives up, and on Close.
	s.SetFaults(Faults{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan reply)
	go func() { done <- c.do(c.mfaRequest(http.MethodGet, "", "u1").WithContext(ctx)) }()
	<-waiting
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled call: %v", r.err)
	}
	go func() { done <- c.mfa("", "u1") }() // left waiting for Close
	<-waiting
	s.Close()
	if r := <-done; r.err == nil && r.body.StatusCode == 200 {
		t.Errorf("a call waiting at Close was answered: %s", r.raw)
	}
	if got := s.Counters(); got.InFlight != 0 || got.Answered != 1 || got.Answers != 1 {
		t.Errorf("after Close: in flight %d answered %d answers %d; want 0, 1, 1", got.InFlight, got.Answered, got.Answers)
	}
}

func TestSetFaultsWhileServing(t *testing.T) {
	s := startServer(t, Options{Synthesize: true, FaultAttempts: -1})
	c := newTestClient(t, s)
	c.login()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				s.SetFaults(Faults{BodyThrottleRate: 1, MixedStatuses: true})
			} else {
				s.SetFaults(Faults{})
			}
			_ = s.Faults()
		}
	})
	var callers sync.WaitGroup
	for g := range 4 {
		callers.Go(func() {
			for i := range 50 {
				r := c.mfa("", fmt.Sprintf("g%d-%d", g, i))
				if k := classify(r); k != "body200" && k != "body404" && k != "body429" {
					t.Errorf("%s: %s", k, r.raw)
				}
			}
		})
	}
	callers.Wait()
	close(stop)
	wg.Wait()
	if got := s.Counters(); got.Requests != 200 || got.Answers+got.Throttled != 200 {
		t.Errorf("requests %d answers %d throttled %d", got.Requests, got.Answers, got.Throttled)
	}
}

func TestParseFaults(t *testing.T) {
	spec := "latency=20ms,throttle=0.05,body429=0.02,5xx=0.02,reset=0.01,slow=0.01:15s,malformed=0.01," +
		"body500=0.01,bool=true,mixed=true,ttl=3s,http401=false,maxrps=100,retryafter=1"
	f, err := ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Faults{
		Latency: 20 * time.Millisecond, ThrottleRate: 0.05, BodyThrottleRate: 0.02, ServerErrorRate: 0.02,
		ResetRate: 0.01, SlowRate: 0.01, SlowDelay: 15 * time.Second, MalformedRate: 0.01, Body500Rate: 0.01,
		BoolStatuses: true, MixedStatuses: true, TokenTTL: 3 * time.Second, MaxRPS: 100, RetryAfter: time.Second,
	}
	if f != want {
		t.Errorf("ParseFaults:\n got %+v\nwant %+v", f, want)
	}
	if back, err := ParseFaults(f.String()); err != nil || back != f {
		t.Errorf("round trip through %q: %+v, %v", f.String(), back, err)
	}
	if f, err := ParseFaults(" "); err != nil || f != (Faults{}) {
		t.Errorf("empty spec: %+v, %v", f, err)
	}
	if f, err := ParseFaults("HTTP401, tokenfaults ,retryafter=2s"); err != nil ||
		f != (Faults{HTTP401: true, TokenFaults: true, RetryAfter: 2 * time.Second}) {
		t.Errorf("bare booleans: %+v, %v", f, err)
	}
	for _, tc := range []struct{ spec, mention string }{
		{"throttle=2", `"throttle"`},
		{"throttle=x", `"throttle"`},
		{"latency=20", `"latency"`},
		{"bogus=1", `"bogus"`},
		{"bogus", `"bogus"`},
		{"latency", `"latency"`},
		{"slow=0.1:soon", `"slow"`},
		{"bool=maybe", `"bool"`},
		{"maxrps=-1", `"maxrps"`},
		{"retryafter=-1", `"retryafter"`},
		{"reset=0.1,reset=0.2", `"reset"`},
		{"throttle=0.6,5xx=0.6", "more than 1"},
	} {
		_, err := ParseFaults(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseFaults(%q) = %v; want an error naming %s", tc.spec, err, tc.mention)
		}
	}
}

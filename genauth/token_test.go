package genauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTokenRefreshAheadOfExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn string
		jwtLife   time.Duration // when > 0 the token is a JWT with iat/exp this far apart
		stillOld  time.Duration // a call this long after the exchange uses the first token
		renewed   time.Duration // a call this long after it exchanges again
	}{
		{"2 hours: 5 minutes ahead", "7200", 0, 2*time.Hour - 5*time.Minute - time.Second, 2*time.Hour - 5*time.Minute},
		{"10 minutes: at 80 %", "600", 0, 8*time.Minute - time.Second, 8 * time.Minute},
		{"3 seconds: at 80 %", "3", 0, 2400*time.Millisecond - time.Millisecond, 2400 * time.Millisecond},
		{"2 seconds as a string", `"2"`, 0, 1599 * time.Millisecond, 1600 * time.Millisecond},
		{"expires_in missing: the JWT's lifetime", "null", 100 * time.Second, 80*time.Second - time.Millisecond, 80 * time.Second},
		{"expires_in missing, no JWT: 2 hours", "null", 0, 2*time.Hour - 5*time.Minute - time.Second, 2*time.Hour - 5*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &fakeAPI{}
				api.token = func(w http.ResponseWriter, r *http.Request, n int) {
					tok := fmt.Sprintf("tok-%d", n)
					if tt.jwtLife > 0 {
						now := time.Now().Unix()
						tok = makeJWT(map[string]any{"n": n, "iat": now, "exp": now + int64(tt.jwtLife/time.Second)})
					}
					api.setCurrent(tok)
					writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":%q,"expires_in":%s}}`, tok, tt.expiresIn)
				}
				c := newTestClient(t, Config{}, api)
				start := time.Now()
				mustAuth(t, c)
				call := func(at time.Duration) {
					t.Helper()
					time.Sleep(time.Until(start.Add(at)))
					if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1"); err != nil {
						t.Fatalf("call at %v: %v", at, err)
					}
				}
				call(tt.stillOld)
				if n := api.exchangeCount(); n != 1 {
					t.Fatalf("%d exchanges before the renewal time, want 1", n)
				}
				call(tt.renewed)
				if n := api.exchangeCount(); n != 2 {
					t.Fatalf("%d exchanges at the renewal time, want 2", n)
				}
				if s := c.Stats(); s.TokenExchanges != 2 || s.Requests != 2 || s.Retries != 0 {
					t.Errorf("stats = %+v: want 2 exchanges and 2 requests, none retried after a 401", s)
				}
			})
		})
	}
}

func TestRenewalAheadGoesOnWithTheOldToken(t *testing.T) {
	// While one caller renews ahead of expiry the others keep using the
	// still-valid token; a renewal that fails for a passing reason keeps it.
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api := &fakeAPI{}
		api.token = func(w http.ResponseWriter, r *http.Request, n int) {
			switch n {
			case 1:
				api.setCurrent("tok-1")
				writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":"tok-1","expires_in":100}}`)
			case 2:
				<-release // the renewal hangs until released
				writeJSON(w, 503, "<html>down</html>")
			default:
				api.setCurrent("tok-3")
				writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":"tok-3","expires_in":100}}`)
			}
		}
		c := newTestClient(t, Config{Retries: -1}, api)
		mustAuth(t, c)
		time.Sleep(81 * time.Second) // past the renewal time (80 s), before expiry

		renewer := make(chan error)
		go func() {
			_, err := c.GetUserMFAInfo(context.Background(), "user_id", "renewer")
			renewer <- err
		}()
		synctest.Wait() // the renewer is blocked in the exchange
		for i := range 5 {
			if _, err := c.GetUserMFAInfo(context.Background(), "user_id", fmt.Sprint("other-", i)); err != nil {
				t.Fatalf("call during the renewal: %v", err)
			}
		}
		close(release)
		if err := <-renewer; err != nil {
			t.Fatalf("renewer: %v (a failed renewal must fall back on the valid token)", err)
		}
		if n := api.exchangeCount(); n != 2 {
			t.Fatalf("%d exchanges, want 2", n)
		}
		// The next try comes halfway to expiry (19 s left / 2), not at once.
		if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u"); err != nil || api.exchangeCount() != 2 {
			t.Fatalf("call right after the failed renewal: %v, %d exchanges", err, api.exchangeCount())
		}
		time.Sleep(10 * time.Second)
		if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u"); err != nil || api.exchangeCount() != 3 {
			t.Fatalf("call later: %v, %d exchanges, want a third", err, api.exchangeCount())
		}
	})
}

// TestConcurrent401OneExchange makes N workers get a 401 for the same token
// at the same time, over real loopback HTTP: one exchange, every call
// retried once with the new token.
func TestConcurrent401OneExchange(t *testing.T) {
	tests := []struct {
		name   string
		reject func(w http.ResponseWriter)
	}{
		{"body statusCode 401", func(w http.ResponseWriter) { writeJSON(w, 200, `{"statusCode":401,"message":"token expired"}`) }},
		{"HTTP 401", func(w http.ResponseWriter) { writeJSON(w, 401, `<html>Unauthorized</html>`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 8
			var (
				mu      sync.Mutex
				stale   int
				release = make(chan struct{})
			)
			api := &fakeAPI{}
			api.mfa = func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") == "Bearer tok-1" {
					// Hold every request made with tok-1 until all n arrived,
					// then reject them together.
					mu.Lock()
					stale++
					if stale == n {
						close(release)
					}
					mu.Unlock()
					select {
					case <-release:
					case <-r.Context().Done():
					}
					tt.reject(w)
					return
				}
				if !api.authorized(r) {
					t.Errorf("request with %q, want the current token", r.Header.Get("Authorization"))
				}
				writeJSON(w, 200, mfaOK)
			}
			srv := httptest.NewServer(api)
			defer srv.Close()
			c, err := New(Config{Host: srv.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret, Concurrency: n})
			if err != nil {
				t.Fatal(err)
			}
			c.int64N = func(int64) int64 { return 0 }
			mustAuth(t, c)

			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					info, err := c.GetUserMFAInfo(context.Background(), "user_id", fmt.Sprint("u", i))
					if err != nil {
						t.Errorf("worker %d: %v", i, err)
					} else if info.Attempts != 2 {
						t.Errorf("worker %d: %d attempts, want 2", i, info.Attempts)
					}
				})
			}
			wg.Wait()
			if got := api.exchangeCount(); got != 2 {
				t.Errorf("%d exchanges, want 2 (Authenticate, then one for all %d workers)", got, n)
			}
			if s := c.Stats(); s.TokenExchanges != 2 || s.Requests != 2*n {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestSecond401IsAuth(t *testing.T) {
	api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"statusCode":401,"message":"no permission for this pool"}`)
	}}
	c := newTestClient(t, Config{}, api)
	mustAuth(t, c)
	_, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassAuth || e.Attempts != 2 || e.StatusCode != 401 {
		t.Fatalf("err = %v, want ClassAuth after 2 attempts", err)
	}
	if !strings.Contains(e.Error(), "no permission for this pool") {
		t.Errorf("error %q does not carry the server's message", e)
	}
	if got := api.exchangeCount(); got != 2 {
		t.Errorf("%d exchanges, want 2 (one refresh only)", got)
	}
}

func TestAuthenticateRefused(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		message string // expected in the error
	}{
		{"body statusCode 401", 200, `{"statusCode":401,"message":"accessKeySecret is wrong","apiCode":1401}`, "accessKeySecret is wrong"},
		{"body statusCode 400", 200, `{"statusCode":400,"message":"参数错误"}`, "参数错误"},
		{"body statusCode 403", 200, `{"statusCode":403,"message":"forbidden key"}`, "forbidden key"},
		{"HTTP 401", 401, `<html>401</html>`, "unauthorized"},
		{"HTTP 403", 403, `{"statusCode":403,"message":"blocked"}`, "blocked"},
		{"HTTP 404: wrong host", 404, `<html>not here</html>`, "not found"},
		{"server echoes the secret", 200, `{"statusCode":401,"message":"bad secret ` + testSecret + `"}`, "bad secret [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotBody map[string]string
			var contentType string
			api := &fakeAPI{token: func(w http.ResponseWriter, r *http.Request, n int) {
				contentType = r.Header.Get("Content-Type")
				_ = json.Unmarshal(readBody(t, r), &gotBody)
				writeJSON(w, tt.status, "%s", tt.body)
			}}
			mfaCalls := 0
			api.mfa = func(w http.ResponseWriter, r *http.Request) { mfaCalls++ }
			var logs logBuffer
			c := newTestClient(t, Config{Host: "http://localhost:8080/genauth/", Logger: logs.logger()}, http.StripPrefix("/genauth", api))
			err := c.Authenticate(context.Background())
			var e *Error
			if !errors.As(err, &e) || e.Class != ClassAuth || e.Op != opToken || e.Attempts != 1 {
				t.Fatalf("err = %v, want ClassAuth from get-management-token after 1 attempt", err)
			}
			text := err.Error()
			if !strings.Contains(text, "http://localhost:8080/genauth") || !strings.Contains(text, tt.message) {
				t.Errorf("error %q: want the host and %q", text, tt.message)
			}
			if strings.Contains(text, testSecret) || strings.Contains(logs.String(), testSecret) {
				t.Errorf("the secret leaked:\nerror: %s\nlogs: %s", text, logs.String())
			}
			if gotBody["accessKeyId"] != testKeyID || gotBody["accessKeySecret"] != testSecret {
				t.Errorf("exchange body = %v", gotBody)
			}
			if contentType != "application/json;charset=UTF-8" {
				t.Errorf("exchange Content-Type = %q", contentType)
			}
			// A later call does not go to the API with no token.
			if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1"); ErrorClass(err) != ClassAuth || mfaCalls != 0 {
				t.Errorf("MFA call after a refused exchange: %v, %d calls to the API", err, mfaCalls)
			}
		})
	}
}

func TestAuthenticateTransient(t *testing.T) {
	tests := []struct {
		name      string
		failFirst int // answers that fail before a good one
		retries   int
		wantClass Class // 0: success
	}{
		{"recovers", 2, 3, 0},
		{"still failing", 10, 3, ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			api.token = func(w http.ResponseWriter, r *http.Request, n int) {
				switch {
				case n > tt.failFirst:
					writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":"tok-ok","expires_in":7200}}`)
				case n%3 == 0:
					writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":"","expires_in":7200}}`) // empty: never cached
				case n%3 == 1:
					writeJSON(w, 502, "<html>bad gateway</html>")
				default:
					writeJSON(w, 200, `{"statusCode":429,"message":"slow down"}`)
				}
			}
			c := newTestClient(t, Config{Retries: tt.retries}, api)
			err := c.Authenticate(context.Background())
			if tt.wantClass == 0 {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if got := c.tok.current(); got != "tok-ok" {
					t.Errorf("token = %q", got)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Class != tt.wantClass || e.Attempts != tt.retries+1 {
				t.Fatalf("err = %v, want %v after %d attempts", err, tt.wantClass, tt.retries+1)
			}
			if !strings.Contains(e.Error(), "token exchange with http://127.0.0.1:9 failed") {
				t.Errorf("error %q does not name the host", e)
			}
			if got := c.tok.current(); got != "" {
				t.Errorf("a token %q is cached after a failed exchange", got)
			}
		})
	}
}

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	tok := makeJWT(map[string]any{"scoped_userpool_id": "pool-jwt", "secretish": "TOKENMARK"})
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { writeJSON(w, 200, `{"statusCode":403,"message":"forbidden"}`) },
		func(w http.ResponseWriter) { writeJSON(w, 200, `<html>oops</html>`) },
		func(w http.ResponseWriter) { writeJSON(w, 500, `{"statusCode":500}`) },
		func(w http.ResponseWriter) { writeJSON(w, 200, `{"statusCode":400,"message":"bad token %s"}`, tok) },
		func(w http.ResponseWriter) { writeJSON(w, 200, `{"statusCode":401,"message":"expired %s"}`, tok) },
	}
	for i, answer := range answers {
		api := &fakeAPI{
			token: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":%q,"expires_in":7200}}`, tok)
			},
			mfa: func(w http.ResponseWriter, r *http.Request) { answer(w) },
		}
		var logs logBuffer
		c := newTestClient(t, Config{Retries: 1, Logger: logs.logger()}, api)
		_, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		if err == nil {
			t.Fatalf("answer %d: no error", i)
		}
		for _, leak := range []string{tok, testSecret} {
			if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
				t.Errorf("answer %d: secret or token leaked:\nerror: %s\nlogs: %s", i, err, logs.String())
			}
		}
	}
}

func TestPoolIDHeaders(t *testing.T) {
	tests := []struct {
		name string
		tok  string
		want string
	}{
		{"from the JWT", makeJWT(map[string]any{"scoped_userpool_id": "pool-from-jwt"}), "pool-from-jwt"},
		{"JWT without the claim", makeJWT(map[string]any{"sub": "x"}), testKeyID},
		{"not a JWT", "opaque", testKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]string
			api := &fakeAPI{
				token: func(w http.ResponseWriter, r *http.Request, n int) {
					writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":%q,"expires_in":7200}}`, tt.tok)
				},
				mfa: func(w http.ResponseWriter, r *http.Request) {
					got = [2]string{r.Header.Get("x-authing-userpool-id"), r.Header.Get("x-genauth-userpool-id")}
					writeJSON(w, 200, mfaOK)
				},
			}
			c := newTestClient(t, Config{}, api)
			if _, err := c.GetUserMFAInfo(context.Background(), "", "u1"); err != nil {
				t.Fatal(err)
			}
			if got != [2]string{tt.want, tt.want} {
				t.Errorf("pool-id headers = %q, want %q in both", got, tt.want)
			}
		})
	}
}

func TestExchangeWaitersAndCancellation(t *testing.T) {
	// A caller that gives up waiting for the exchange leaves; the exchange
	// goes on for the others, and is cancelled when no one waits.
	synctest.Test(t, func(t *testing.T) {
		var (
			mu             sync.Mutex
			exchangeCtxErr error
		)
		ctxErr := func() error { mu.Lock(); defer mu.Unlock(); return exchangeCtxErr }
		api := &fakeAPI{}
		api.token = func(w http.ResponseWriter, r *http.Request, n int) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				mu.Lock()
				exchangeCtxErr = r.Context().Err()
				mu.Unlock()
				return
			}
			api.setCurrent(fmt.Sprint("tok-", n))
			writeJSON(w, 200, `{"statusCode":200,"data":{"access_token":"tok-%d","expires_in":7200}}`, n)
		}
		c := newTestClient(t, Config{}, api)

		impatient, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		errs := make(chan error, 2)
		go func() { _, err := c.GetUserMFAInfo(impatient, "user_id", "a"); errs <- err }()
		go func() { _, err := c.GetUserMFAInfo(context.Background(), "user_id", "b"); errs <- err }()
		first, second := <-errs, <-errs
		if !errors.Is(first, context.DeadlineExceeded) || ErrorClass(first) != ClassRetryable {
			t.Errorf("impatient caller: %v, want its deadline", first)
		}
		if second != nil {
			t.Errorf("patient caller: %v", second)
		}
		if api.exchangeCount() != 1 || ctxErr() != nil {
			t.Errorf("%d exchanges (ctx %v), want 1 not cancelled", api.exchangeCount(), ctxErr())
		}

		// Alone and cancelled: the exchange is cancelled too.
		c2 := newTestClient(t, Config{}, api)
		ctx, cancel2 := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c2.Authenticate(ctx) }()
		time.Sleep(time.Second)
		cancel2()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Authenticate cancelled: %v", err)
		}
		synctest.Wait()
		if !errors.Is(ctxErr(), context.Canceled) {
			t.Errorf("exchange with no one waiting: ctx err %v, want canceled", ctxErr())
		}
	})
}

// TestTokenExpiringDuringBackoffIsRenewed: a server that expires tokens
// early (it promised 7200 s) rejects the token again after a long backoff.
// That is the token's age, not refused credentials: renew and go on.
func TestTokenExpiringDuringBackoffIsRenewed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		api := &fakeAPI{}
		api.mfa = func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) {
			case 1: // the first token has expired
				writeJSON(w, 200, `{"statusCode":401,"message":"token expired"}`)
			case 2: // throttled: wait 20 s, longer than this server's tokens live
				w.Header().Set("Retry-After", "20")
				writeJSON(w, 429, "")
			case 3: // so the renewed token has expired too
				writeJSON(w, 401, `{"statusCode":401,"message":"token expired"}`)
			default:
				if !api.authorized(r) {
					t.Error("a stale token after the renewal")
				}
				writeJSON(w, 200, mfaOK)
			}
		}
		c := newTestClient(t, Config{}, api)
		mustAuth(t, c)
		time.Sleep(5 * time.Second) // the first token is no longer fresh
		info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		if err != nil {
			t.Fatalf("GetUserMFAInfo: %v", err)
		}
		if info.Attempts != 4 || c.Stats().TokenExchanges != 3 {
			t.Errorf("attempts %d, exchanges %d; want 4 and 3", info.Attempts, c.Stats().TokenExchanges)
		}
	})
}

// TestFreshTokenRejectedTwiceIsRefused: a token straight from the exchange
// rejected right after a renewal means the credentials are refused.
func TestFreshTokenRejectedTwiceIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{}
		api.mfa = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"statusCode":401,"message":"unauthorized"}`)
		}
		c := newTestClient(t, Config{}, api)
		mustAuth(t, c)
		_, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		if ErrorClass(err) != ClassAuth {
			t.Fatalf("err %v, want ClassAuth", err)
		}
		if got := c.Stats().Requests; got != 2 {
			t.Errorf("%d attempts before giving up, want 2", got)
		}
	})
}

package genauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestNewHost(t *testing.T) {
	tests := []struct {
		host      string
		allowHTTP bool
		wantBase  string // "" = error
		wantErr   string
	}{
		{"", false, DefaultHost, ""},
		{"https://api.genauth.ai", false, "https://api.genauth.ai", ""},
		{"https://api.authing.cn/", false, "https://api.authing.cn", ""},
		{" https://core.authing.cn// ", false, "https://core.authing.cn", ""},
		{"https://idp.example.com:8443/genauth/", false, "https://idp.example.com:8443/genauth", ""},
		{"HTTPS://API.GENAUTH.AI", false, "https://API.GENAUTH.AI", ""},
		{"http://127.0.0.1:8080", false, "http://127.0.0.1:8080", ""},
		{"http://127.9.9.9", false, "http://127.9.9.9", ""},
		{"http://localhost:3000/", false, "http://localhost:3000", ""},
		{"http://LOCALHOST", false, "http://LOCALHOST", ""},
		{"http://[::1]:8080", false, "http://[::1]:8080", ""},
		{"http://api.genauth.ai", false, "", "AUDIT_ALLOW_HTTP"},
		{"http://10.0.0.5:8080", false, "", "use https"},
		{"http://128.0.0.1", false, "", "AUDIT_ALLOW_HTTP"},
		{"http://localhost.evil.com", false, "", "AUDIT_ALLOW_HTTP"},
		{"http://[::2]", false, "", "AUDIT_ALLOW_HTTP"},
		{"http://genauth.internal", true, "http://genauth.internal", ""},
		{"api.genauth.ai", false, "", "https://"},
		{"ftp://api.genauth.ai", false, "", "https://"},
		{"https://", false, "", "no host"},
		{"https://user:pw@api.genauth.ai", false, "", "credentials"},
		{"https://api.genauth.ai?x=1", false, "", "query"},
		{"https://api.genauth.ai/#frag", false, "", "fragment"},
		{"https://api.genauth.ai/api/v3", false, "", "without /api/v3"},
		{"https://api.genauth.ai/api/v3/", false, "", "without /api/v3"},
		{"https://api.genauth.ai:port", false, "", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c, err := New(Config{Host: tt.host, AllowHTTP: tt.allowHTTP, AccessKeyID: testKeyID, AccessKeySecret: testSecret})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v, want one containing %q", tt.host, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error holds the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.host, err)
			}
			if c.base != tt.wantBase {
				t.Errorf("base = %q, want %q", c.base, tt.wantBase)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	c, err := New(Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Concurrency: 24})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.rt.(*http.Transport)
	if !ok {
		t.Fatalf("transport %T, want *http.Transport", c.rt)
	}
	if tr.MaxIdleConnsPerHost < 24 || tr.MaxIdleConns < 24 {
		t.Errorf("idle connections per host %d (total %d), want >= the concurrency 24", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS verification is off")
	}
	if tr == http.DefaultTransport {
		t.Error("the default transport itself is modified")
	}
	if cap(c.sem) != 24 {
		t.Errorf("in-flight cap %d, want 24", cap(c.sem))
	}

	d, err := New(Config{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if cap(d.sem) != 8 || d.timeout != 10*time.Second || d.retries != 5 || d.maxRetryAfter != 30*time.Second ||
		d.userAgent != "mfa-audit" || d.Stats().CurrentRate != 0 {
		t.Errorf("defaults: concurrency %d, timeout %v, retries %d, max retry-after %v, user agent %q, rate %v",
			cap(d.sem), d.timeout, d.retries, d.maxRetryAfter, d.userAgent, d.Stats().CurrentRate)
	}

	for _, bad := range []Config{
		{AccessKeySecret: testSecret},
		{AccessKeyID: testKeyID},
		{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Rate: -1},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v): want an error", bad)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("error holds the secret: %v", err)
		}
	}
}

func TestTLSVerified(t *testing.T) {
	srv := httptest.NewUnstartedServer(&fakeAPI{})
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	c, err := New(Config{Host: srv.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Authenticate(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Class != ClassFatal || e.Attempts != 1 || !strings.Contains(e.Message, "not trusted") {
		t.Fatalf("Authenticate against a self-signed server: %v, want a fatal TLS error at once", err)
	}
	// With the server's certificate trusted (a test transport), it works.
	c2, err := New(Config{Host: srv.URL, AccessKeyID: testKeyID, AccessKeySecret: testSecret, Transport: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestHeadersAndQuery(t *testing.T) {
	type seen struct {
		method, path, rawQuery string
		query                  map[string][]string
		header                 http.Header
		body                   []byte
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.Query(), r.Header.Clone(), readBody(t, r)})
	}
	api := &fakeAPI{
		mfa: func(w http.ResponseWriter, r *http.Request) {
			record(r)
			writeJSON(w, 200, mfaOK)
		},
		list: func(w http.ResponseWriter, r *http.Request) {
			record(r)
			writeJSON(w, 200, `{"statusCode":200,"data":{"totalCount":1,"list":[{"userId":"u1"}]}}`)
		},
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c, err := New(Config{Host: srv.URL + "/", AccessKeyID: testKeyID, AccessKeySecret: testSecret,
		TenantID: "tenant-7", UserAgent: "mfa-audit/1.2.3"})
	if err != nil {
		t.Fatal(err)
	}

	ids := []struct{ idType, id string }{
		{"user_id", "5f8d1e2c3b4a"},
		{"identity", "62b0f1:ou_abc:def"},
		{"sync_relation", "lark:ou_7d8a6e"},
		{"phone", "+8613800000000"},
		{"email", "a+b@example.com"},
		{"username", "John Smith"},
		{"username", "张三"},
		{"external_id", "a&b=c?d#e%41/f"},
		{"", "defaults-to-user_id"},
	}
	for _, tt := range ids {
		if _, err := c.GetUserMFAInfo(context.Background(), tt.idType, tt.id); err != nil {
			t.Fatalf("GetUserMFAInfo(%q, %q): %v", tt.idType, tt.id, err)
		}
	}
	if _, _, err := c.ListUsers(context.Background(), 2, 50); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != len(ids)+1 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	for i, tt := range ids {
		r := reqs[i]
		wantType := tt.idType
		if wantType == "" {
			wantType = "user_id"
		}
		if r.method != http.MethodGet || r.path != pathMFAInfo || len(r.body) != 0 {
			t.Errorf("%q: %s %s with %d body bytes, want GET %s without a body", tt.id, r.method, r.path, len(r.body), pathMFAInfo)
		}
		if len(r.query) != 2 || len(r.query["userId"]) != 1 || r.query["userId"][0] != tt.id || r.query["userIdType"][0] != wantType {
			t.Errorf("%q: query %q decodes to %v", tt.id, r.rawQuery, r.query)
		}
		if r.header.Get("Content-Type") != "" {
			t.Errorf("%q: Content-Type %q on a request without a body", tt.id, r.header.Get("Content-Type"))
		}
	}
	wantHeaders := map[string]string{
		"Authorization":           "Bearer tok-1",
		"x-authing-userpool-id":   testKeyID,
		"x-genauth-userpool-id":   testKeyID,
		"x-authing-app-tenant-id": "tenant-7",
		"x-authing-lang":          "en-US",
		"x-genauth-lang":          "en-US",
		"x-authing-sdk-version":   "mfa-audit/1.2.3",
		"User-Agent":              "mfa-audit/1.2.3",
	}
	for _, r := range reqs {
		for k, v := range wantHeaders {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s %s: header %s = %q, want %q", r.method, r.path, k, got, v)
			}
		}
	}
	list := reqs[len(ids)]
	if list.method != http.MethodPost || list.path != pathListUsers || list.header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Errorf("list-users: %s %s, Content-Type %q", list.method, list.path, list.header.Get("Content-Type"))
	}
	var body struct {
		Options struct {
			Pagination struct{ Page, Limit int }
		}
		WithDepartmentIDs bool `json:"withDepartmentIds"`
	}
	if err := json.Unmarshal(list.body, &body); err != nil || body.Options.Pagination.Page != 2 ||
		body.Options.Pagination.Limit != 50 || !body.WithDepartmentIDs {
		t.Errorf("list-users body %s (%v)", list.body, err)
	}
	if got := api.exchangeCount(); got != 1 {
		t.Errorf("%d exchanges, want 1 (the token is shared and cached)", got)
	}

}

func TestNoTenantHeader(t *testing.T) {
	var h http.Header
	api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
		h = r.Header.Clone()
		writeJSON(w, 200, mfaOK)
	}}
	c := newTestClient(t, Config{}, api)
	if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "u"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["X-Authing-App-Tenant-Id"]; ok || h.Get("User-Agent") != "mfa-audit" {
		t.Errorf("no tenant: headers %v", h)
	}
}

func TestGetUserMFAInfoOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		answers  []string // "HTTP|body", one per attempt; the last repeats
		want     string   // statuses on success
		class    Class    // on failure
		attempts int
		check    func(t *testing.T, e *Error)
	}{
		{name: "ok", answers: []string{"200|" + mfaOK}, want: "TTTT", attempts: 1},
		{name: "booleans and null", answers: []string{`200|{"statusCode":200,"data":{"totpStatus":true,"faceMfaStatus":null,"smsMfaStatus":"disabled"}}`}, want: "T-F-", attempts: 1},
		{name: "not found", answers: []string{`200|{"statusCode":404,"apiCode":2004,"message":"user does not exist","requestId":"r-nf"}`}, class: ClassNotFound, attempts: 1,
			check: func(t *testing.T, e *Error) {
				want := "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, requestId r-nf, 1 attempt)"
				if e.Error() != want {
					t.Errorf("Error() = %q, want %q", e.Error(), want)
				}
			}},
		{name: "invalid", answers: []string{`200|{"statusCode":400,"message":"参数 userId 格式错误"}`}, class: ClassInvalid, attempts: 1},
		{name: "invalid operation", answers: []string{`200|{"statusCode":422,"message":"no"}`}, class: ClassInvalid, attempts: 1},
		{name: "forbidden", answers: []string{`200|{"statusCode":403,"message":"no access"}`}, class: ClassFatal, attempts: 1},
		{name: "unknown statusCode", answers: []string{`200|{"statusCode":418,"message":"teapot"}`}, class: ClassFatal, attempts: 1},
		{name: "user pool not found", answers: []string{`200|{"statusCode":404,"apiCode":2224,"message":"user pool not found"}`}, class: ClassAuth, attempts: 1},
		{name: "gateway 404", answers: []string{`404|<html>no</html>`}, class: ClassEndpoint, attempts: 1,
			check: func(t *testing.T, e *Error) {
				want := "get-user-mfa-info: not the GenAuth API: HTTP 404 not found, text/html: check GENAUTH_HOST and its path prefix (HTTP 404, 1 attempt)"
				if e.Error() != want {
					t.Errorf("Error() = %q, want %q", e.Error(), want)
				}
			}},
		{name: "JSON 404 from GenAuth", answers: []string{`404|{"statusCode":404,"apiCode":2004,"message":"user does not exist"}`}, class: ClassNotFound, attempts: 1},
		{name: "redirect", answers: []string{`301|`}, class: ClassFatal, attempts: 1,
			check: func(t *testing.T, e *Error) {
				if !strings.Contains(e.Message, "redirect (HTTP 301) to https://elsewhere.example") {
					t.Errorf("message %q", e.Message)
				}
			}},
		{name: "HTML 200 then ok", answers: []string{"200|<html>maintenance</html>", "200|" + mfaOK}, want: "TTTT", attempts: 2},
		{name: "truncated then ok", answers: []string{`200|{"statusCode":200,"data":{"totpSt`, "200|" + mfaOK}, want: "TTTT", attempts: 2},
		{name: "bad status value then ok", answers: []string{`200|{"statusCode":200,"data":{"totpStatus":"maybe"}}`, "200|" + mfaOK}, want: "TTTT", attempts: 2},
		{name: "5xx body, 5xx HTTP, 429, then ok", answers: []string{`200|{"statusCode":500}`, "502|", "429|<html/>", "200|" + mfaOK}, want: "TTTT", attempts: 4},
		{name: "bad status value to the end", answers: []string{`200|{"statusCode":200,"requestId":"r-bad","data":{"totpStatus":"maybe"}}`}, class: ClassRetryable, attempts: 4,
			check: func(t *testing.T, e *Error) {
				if !errors.Is(e, errMalformed) || !strings.Contains(e.Error(), "totpStatus") || e.RequestID != "r-bad" {
					t.Errorf("error %q: want a malformed-answer error naming the field", e)
				}
			}},
		{name: "HTML to the end", answers: []string{"200|<html>maintenance</html>"}, class: ClassRetryable, attempts: 4,
			check: func(t *testing.T, e *Error) {
				if !strings.Contains(e.Message, "undecodable answer (text/html)") || e.HTTPStatus != 200 {
					t.Errorf("error %q", e)
				}
			}},
		{name: "throttled to the end", answers: []string{`200|{"statusCode":429,"message":"您的请求已超过最大数量限制，请稍后重试"}`}, class: ClassRetryable, attempts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
				i := min(int(n.Add(1))-1, len(tt.answers)-1)
				status, body, _ := strings.Cut(tt.answers[i], "|")
				var code int
				fmt.Sscan(status, &code)
				ct := "application/json"
				if strings.HasPrefix(body, "<") {
					ct = "text/html"
				}
				w.Header().Set("Content-Type", ct)
				if code == 301 {
					w.Header().Set("Location", "https://elsewhere.example/x")
				}
				w.WriteHeader(code)
				fmt.Fprint(w, body)
			}}
			c := newTestClient(t, Config{Retries: 3}, api)
			info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
			if int(n.Load()) != tt.attempts {
				t.Errorf("%d attempts reached the API, want %d", n.Load(), tt.attempts)
			}
			if tt.class == 0 {
				if err != nil {
					t.Fatalf("GetUserMFAInfo: %v", err)
				}
				if got := bools(info); got != tt.want || info.Attempts != tt.attempts {
					t.Errorf("info = %s in %d attempts, want %s in %d", got, info.Attempts, tt.want, tt.attempts)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Class != tt.class || e.Attempts != tt.attempts || e.Op != opMFAInfo {
				t.Errorf("err = %v: class %v in %d attempts, want %v in %d", e, e.Class, e.Attempts, tt.class, tt.attempts)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestGetUserMFAInfoEmptyID(t *testing.T) {
	api := &fakeAPI{}
	c := newTestClient(t, Config{}, api)
	_, err := c.GetUserMFAInfo(context.Background(), "user_id", "")
	if ErrorClass(err) != ClassInvalid || api.exchangeCount() != 0 {
		t.Errorf("empty id: %v, %d exchanges; want ClassInvalid without a call", err, api.exchangeCount())
	}
}

func TestListUsers(t *testing.T) {
	var n atomic.Int32
	api := &fakeAPI{list: func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, 503, "<html>busy</html>")
			return
		}
		writeJSON(w, 200, `{"statusCode":200,"data":{"totalCount":"120","list":[{"userId":"u1","email":"a@x","departmentIds":["d"]},{"userId":"u2","phone":null}]}}`)
	}}
	c := newTestClient(t, Config{}, api)
	users, total, err := c.ListUsers(context.Background(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 120 || len(users) != 2 || users[0].UserID != "u1" || users[0].DepartmentIDs[0] != "d" || users[1].UserID != "u2" {
		t.Errorf("ListUsers = %+v, %d", users, total)
	}
	if s := c.Stats(); s.Requests != 2 || s.Retries != 1 {
		t.Errorf("stats %+v", s)
	}
	for _, bad := range [][2]int{{0, 10}, {1, 0}, {1, 51}} {
		if _, _, err := c.ListUsers(context.Background(), bad[0], bad[1]); ErrorClass(err) != ClassInvalid {
			t.Errorf("ListUsers(%d, %d): %v, want ClassInvalid", bad[0], bad[1], err)
		}
	}
}

func TestInFlightCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const capN = 3
		var cur, peak atomic.Int64
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			v := cur.Add(1)
			for {
				p := peak.Load()
				if v <= p || peak.CompareAndSwap(p, v) {
					break
				}
			}
			time.Sleep(50 * time.Millisecond) // latency
			cur.Add(-1)
			writeJSON(w, 200, mfaOK)
		}}
		c := newTestClient(t, Config{Concurrency: capN}, api)
		mustAuth(t, c)
		var wg sync.WaitGroup
		var sawInFlight atomic.Int64
		for i := range 30 {
			wg.Go(func() {
				if _, err := c.GetUserMFAInfo(context.Background(), "user_id", fmt.Sprint("u", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			time.Sleep(10 * time.Millisecond)
			sawInFlight.Store(c.Stats().InFlight)
		})
		wg.Wait()
		if p := peak.Load(); p != capN {
			t.Errorf("peak in flight %d, want exactly the cap %d", p, capN)
		}
		if s := sawInFlight.Load(); s != capN {
			t.Errorf("Stats.InFlight mid-run = %d, want %d", s, capN)
		}
		if s := c.Stats(); s.InFlight != 0 || s.Requests != 30 {
			t.Errorf("stats after = %+v", s)
		}
	})
}

func TestBackoffDoesNotHoldASlot(t *testing.T) {
	// One slot. A request waiting 10 s to retry must not keep the other from
	// going meanwhile.
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		seen := map[string][]time.Duration{}
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			id := r.URL.Query().Get("userId")
			mu.Lock()
			seen[id] = append(seen[id], time.Since(start))
			first := len(seen[id]) == 1
			mu.Unlock()
			if id == "slow" && first {
				w.Header().Set("Retry-After", "10")
				writeJSON(w, 503, "<html>busy</html>")
				return
			}
			writeJSON(w, 200, mfaOK)
		}}
		c := newTestClient(t, Config{Concurrency: 1}, api)
		mustAuth(t, c)
		slowDone := make(chan error)
		go func() {
			_, err := c.GetUserMFAInfo(context.Background(), "user_id", "slow")
			slowDone <- err
		}()
		synctest.Wait() // "slow" is in its backoff
		if _, err := c.GetUserMFAInfo(context.Background(), "user_id", "fast"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 0 {
			t.Errorf("the other request waited %v for the slot of a request in backoff", el)
		}
		if err := <-slowDone; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := seen["slow"]; len(got) != 2 || got[1] != 10*time.Second {
			t.Errorf("slow attempts at %v, want 0s and 10s", got)
		}
	})
}

func TestCancellation(t *testing.T) {
	tests := []struct {
		name string
		// answer is the fake's behaviour; it may block on r.Context().
		answer       func(w http.ResponseWriter, r *http.Request)
		cancelAfter  time.Duration
		wantAttempts int
	}{
		{"during the backoff", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, "")
		}, time.Second, 1},
		{"during the request", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := &fakeAPI{mfa: tt.answer}
				c := newTestClient(t, Config{}, api)
				mustAuth(t, c)
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(tt.cancelAfter, cancel)
				start := time.Now()
				_, err := c.GetUserMFAInfo(ctx, "user_id", "u1")
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want one that wraps context.Canceled", err)
				}
				var e *Error
				if !errors.As(err, &e) || e.Attempts != tt.wantAttempts {
					t.Errorf("err = %#v, want *Error after %d attempts", err, tt.wantAttempts)
				}
				if el := time.Since(start); el != tt.cancelAfter {
					t.Errorf("returned after %v, want at the cancellation (%v)", el, tt.cancelAfter)
				}
			})
		})
	}
	// Cancelled before the call: no request at all.
	api := &fakeAPI{}
	c := newTestClient(t, Config{}, api)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetUserMFAInfo(ctx, "user_id", "u"); !errors.Is(err, context.Canceled) || api.exchangeCount() != 0 {
		t.Errorf("cancelled call: %v, %d exchanges", err, api.exchangeCount())
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		api := &fakeAPI{mfa: func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done() // hangs until the attempt times out
				return
			}
			writeJSON(w, 200, mfaOK)
		}}
		c := newTestClient(t, Config{Timeout: 2 * time.Second, Rate: 1}, api)
		mustAuth(t, c)
		start := time.Now()
		info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
		if err != nil || info.Attempts != 2 {
			t.Fatalf("GetUserMFAInfo = %+v, %v; want success at the second attempt", info, err)
		}
		// 2 s timeout, then the next limiter token (1 rps) is already there.
		if el := time.Since(start); el != 2*time.Second {
			t.Errorf("took %v, want 2s", el)
		}

		// Every attempt hangs: retryable, naming the timeout.
		api.mfa = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
		c2 := newTestClient(t, Config{Timeout: time.Second, Retries: 2}, api)
		_, err = c2.GetUserMFAInfo(context.Background(), "user_id", "u1")
		var e *Error
		if !errors.As(err, &e) || e.Class != ClassRetryable || e.Attempts != 3 || !strings.Contains(e.Message, "no answer within 1s") {
			t.Errorf("err = %v, want retryable after 3 timed-out attempts", err)
		}
		if errors.Is(err, context.Canceled) {
			t.Error("a per-attempt timeout reads as the caller's cancellation")
		}
	})
}

func TestTransportErrorsRetried(t *testing.T) {
	errs := []error{
		errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"),
		io.ErrUnexpectedEOF,
	}
	var n atomic.Int32
	api := &fakeAPI{}
	ok := handlerTransport(api)
	c := newTestClient(t, Config{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == pathMFAInfo {
			if i := int(n.Add(1)) - 1; i < len(errs) {
				return nil, errs[i]
			}
		}
		return ok.RoundTrip(r)
	})}, nil)
	info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
	if err != nil || info.Attempts != 3 {
		t.Fatalf("GetUserMFAInfo = %+v, %v; want success at the third attempt", info, err)
	}
}

func TestStatsAndLogs(t *testing.T) {
	var n atomic.Int32
	api := &fakeAPI{}
	api.mfa = func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			writeJSON(w, 429, "")
		case 2:
			writeJSON(w, 200, `{"statusCode":401}`)
		default:
			if !api.authorized(r) {
				t.Error("stale token after a 401")
			}
			writeJSON(w, 200, mfaOK)
		}
	}
	var logs logBuffer
	c := newTestClient(t, Config{Rate: 100, Logger: logs.logger()}, api)
	info, err := c.GetUserMFAInfo(context.Background(), "user_id", "u1")
	if err != nil || info.Attempts != 3 || info.RequestID != "req-1" {
		t.Fatalf("GetUserMFAInfo = %+v, %v", info, err)
	}
	// One 429 among three answers is no sustained throttling: the rate holds
	// (the limiter's own tests cover lowering it).
	want := Stats{Requests: 3, Retries: 2, Throttled: 1, TokenExchanges: 2, CurrentRate: 100, InFlight: 0}
	if got := c.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	text := logs.String()
	for _, s := range []string{"genauth: retrying", "http_status=429", "token rejected"} {
		if !strings.Contains(text, s) {
			t.Errorf("logs lack %q:\n%s", s, text)
		}
	}
	for _, leak := range []string{testSecret, "tok-1", "tok-2"} {
		if strings.Contains(text, leak) {
			t.Errorf("logs hold %q", leak)
		}
	}
}

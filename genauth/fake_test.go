package genauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Test doubles shared by the tests of this package. The package's own fake
// server (genauthtest) is written separately; these stay minimal and fully
// under each test's control.

const (
	testKeyID  = "pool-0123456789"
	testSecret = "s3cr3t-DO-NOT-PRINT-4242"
)

// roundTripperFunc answers requests in-process: no network, so it works
// inside a testing/synctest bubble.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// handlerTransport serves requests with h, in the calling goroutine.
func handlerTransport(h http.Handler) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		if r.Body == nil {
			r.Body = http.NoBody
		}
		r.RequestURI = r.URL.RequestURI()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if err := r.Context().Err(); err != nil {
			return nil, err // the attempt timed out or was cancelled meanwhile
		}
		return rec.Result(), nil
	})
}

// fakeAPI is a scriptable GenAuth API. Tokens are "tok-1", "tok-2", ... in
// exchange order, unless token overrides the answer.
type fakeAPI struct {
	mu        sync.Mutex
	exchanges int    // exchange requests received
	current   string // the token the MFA handler accepts
	// expiresIn is the raw JSON of expires_in ("7200" when empty).
	expiresIn string
	// token, when set, answers exchange n (from 1) instead.
	token func(w http.ResponseWriter, r *http.Request, n int)
	// mfa, when set, answers get-user-mfa-info; the default checks the
	// token and answers all four factors enabled.
	mfa  func(w http.ResponseWriter, r *http.Request)
	list func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == pathToken:
		f.mu.Lock()
		f.exchanges++
		n := f.exchanges
		tokenFn := f.token
		f.mu.Unlock()
		if tokenFn != nil {
			tokenFn(w, r, n)
			return
		}
		tok := fmt.Sprintf("tok-%d", n)
		f.setCurrent(tok)
		exp := f.expiresIn
		if exp == "" {
			exp = "7200"
		}
		writeJSON(w, 200, `{"statusCode":200,"message":"ok","data":{"access_token":%q,"expires_in":%s}}`, tok, exp)
	case r.Method == http.MethodGet && r.URL.Path == pathMFAInfo:
		if f.mfa != nil {
			f.mfa(w, r)
			return
		}
		if !f.authorized(r) {
			writeJSON(w, 200, `{"statusCode":401,"message":"token expired"}`)
			return
		}
		writeJSON(w, 200, mfaOK)
	case r.Method == http.MethodPost && r.URL.Path == pathListUsers:
		if f.list != nil {
			f.list(w, r)
			return
		}
		writeJSON(w, 200, `{"statusCode":200,"data":{"totalCount":0,"list":[]}}`)
	default:
		http.NotFound(w, r)
	}
}

const mfaOK = `{"statusCode":200,"message":"Success","requestId":"req-1","data":{"totpStatus":"enabled","faceMfaStatus":"enabled","smsMfaStatus":"enabled","emailMfaStatus":"enabled"}}`

func (f *fakeAPI) setCurrent(tok string) {
	f.mu.Lock()
	f.current = tok
	f.mu.Unlock()
}

func (f *fakeAPI) authorized(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current != "" && r.Header.Get("Authorization") == "Bearer "+f.current
}

func (f *fakeAPI) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func writeJSON(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, format, args...)
}

// newTestClient makes a Client served in-process by h, with zero backoff
// jitter unless the test sets cfg fields otherwise.
func newTestClient(t testing.TB, cfg Config, h http.Handler) *Client {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "http://127.0.0.1:9"
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID = testKeyID
	}
	if cfg.AccessKeySecret == "" {
		cfg.AccessKeySecret = testSecret
	}
	if cfg.Transport == nil && h != nil {
		cfg.Transport = handlerTransport(h)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.int64N = func(int64) int64 { return 0 } // no backoff wait
	return c
}

// makeJWT builds an unsigned JWT with the given payload.
func makeJWT(payload map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p, _ := json.Marshal(payload)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + ".c2lnbmF0dXJl"
}

// logBuffer collects a Client's logs for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// readBody reads a request body for inspection.
func readBody(t testing.TB, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading request body: %v", err)
	}
	return b
}

// mustAuth authenticates c or fails the test.
func mustAuth(t testing.TB, c *Client) {
	t.Helper()
	if err := c.Authenticate(context.Background()); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
}

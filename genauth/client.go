package genauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/redact"
)

// Defaults of Config.
const (
	DefaultHost          = "https://api.genauth.ai"
	DefaultConcurrency   = 8
	DefaultTimeout       = 10 * time.Second
	DefaultRetries       = 5
	DefaultMaxRetryAfter = 30 * time.Second
	DefaultUserAgent     = "mfa-audit"
)

// API paths.
const (
	pathToken     = "/api/v3/get-management-token"
	pathMFAInfo   = "/api/v3/get-user-mfa-info"
	pathListUsers = "/api/v3/list-users"
)

// maxBody bounds the answer read into memory (a list-users page of 50 users
// is a few tens of kB).
const maxBody = 4 << 20

// Client calls the GenAuth V3 management API. One Client is meant to be
// shared by every worker: it is safe for concurrent use.
type Client struct {
	base          string // scheme://host[/prefix], no trailing slash
	accessKeyID   string
	secret        string
	tenantID      string
	userAgent     string
	uaHeader      []string // shared header values, read-only
	tenantHeader  []string
	timeout       time.Duration
	retries       int
	maxRetryAfter time.Duration

	// rt sends every request. Not an http.Client: the API does not
	// redirect, and following a redirect could send the token elsewhere
	// or turn a POST into a GET, so a 3xx is an answer like any other;
	// without redirects, cookies or a client timeout (each attempt has its
	// own context deadline) http.Client would only add a copy of every
	// request's headers.
	rt  http.RoundTripper
	lim *adaptiveLimiter
	sem chan struct{} // one slot per request in flight
	tok *tokenSource
	log *slog.Logger
	// int64N draws the backoff jitter (rand.Int64N when nil); tests pin it.
	int64N func(int64) int64

	requests, retried, throttled, exchanges, inFlight atomic.Int64
	fake                                              atomic.Bool                 // an answer came from the built-in fake
	forms                                             atomic.Pointer[formsCache]  // see secretForms
	getHdr                                            atomic.Pointer[tokenHeader] // see getHeader
}

// New checks cfg, applies its defaults and returns a Client. It makes no
// network call: Authenticate does the first token exchange.
func New(cfg Config) (*Client, error) {
	base, loopback, err := parseHost(cfg.Host)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(base, "http://") && !loopback && !cfg.AllowHTTP {
		return nil, fmt.Errorf("genauth: host %s uses plain http: use https, or set AUDIT_ALLOW_HTTP to allow it", base)
	}
	if cfg.AccessKeyID == "" {
		return nil, errors.New("genauth: the access key ID (user pool ID) is empty")
	}
	if cfg.AccessKeySecret == "" {
		return nil, errors.New("genauth: the access key secret is empty")
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("genauth: rate %v: want a number of requests per second >= 0 (0: no ceiling)", cfg.Rate)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport(cfg.Concurrency)
	}

	c := &Client{
		base:          base,
		accessKeyID:   cfg.AccessKeyID,
		secret:        cfg.AccessKeySecret,
		tenantID:      cfg.TenantID,
		userAgent:     cfg.UserAgent,
		uaHeader:      []string{cfg.UserAgent},
		tenantHeader:  []string{cfg.TenantID},
		timeout:       cfg.Timeout,
		retries:       cfg.Retries,
		maxRetryAfter: cfg.MaxRetryAfter,
		rt:            transport,
		lim:           newAdaptiveLimiter(cfg.Rate, log),
		sem:           make(chan struct{}, cfg.Concurrency),
		log:           log,
	}
	c.tok = &tokenSource{fetch: c.exchange, defPoolID: cfg.AccessKeyID, log: log}
	return c, nil
}

// parseHost checks a base URL and returns it without a trailing slash, and
// whether it names a loopback host.
func parseHost(h string) (base string, loopback bool, err error) {
	h = strings.TrimSpace(h)
	if h == "" {
		h = DefaultHost
	}
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("genauth: host %q: %s", redact.URL(h), why)
	}
	u, err := url.Parse(h)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("want an https:// URL such as " + DefaultHost)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return bad("no host name")
	}
	if u.User != nil {
		return bad("must not hold credentials")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return bad("must not have a query or fragment")
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	if strings.HasSuffix(prefix, "/api/v3") || strings.HasSuffix(prefix, "/api") {
		return bad("give the base URL without /api/v3")
	}
	return u.Scheme + "://" + u.Host + prefix, isLoopback(u.Hostname()), nil
}

// isLoopback reports whether host is localhost or a loopback address
// (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport is http.DefaultTransport's configuration with enough idle
// connections kept per host for every request in flight, and TLS verified.
func newTransport(concurrency int) http.RoundTripper {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	idle := concurrency + 2 // the token exchange may need one more
	t.MaxIdleConnsPerHost = idle
	t.MaxIdleConns = max(t.MaxIdleConns, idle)
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = false
	t.TLSClientConfig.MinVersion = max(t.TLSClientConfig.MinVersion, tls.VersionTLS12)
	return t
}

// Authenticate exchanges the access key for a management token now (or
// joins the exchange in progress). A refused key is an *Error of
// ClassAuth that names the host and the server's message, never the
// secret; a server that stays unreachable or throttled through the retries
// gives ClassRetryable. Call it before the first MFA call.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.tok.renew(ctx)
	if err != nil {
		return c.tokenError(opToken, 0, err)
	}
	return nil
}

// GetUserMFAInfo asks for one user's MFA bindings. idType is a userIdType
// ("user_id" when empty). Every error is an *Error (see Class); a
// cancelled ctx gives a ClassRetryable one that wraps ctx.Err(), so check
// errors.Is(err, context.Canceled) before the class.
func (c *Client) GetUserMFAInfo(ctx context.Context, idType, userID string) (MFAInfo, error) {
	if idType == "" {
		idType = "user_id"
	}
	if userID == "" {
		return MFAInfo{}, &Error{Class: ClassInvalid, Op: opMFAInfo, Message: "empty userId"}
	}
	var info MFAInfo
	req := &request{
		op:     opMFAInfo,
		method: http.MethodGet,
		path:   pathMFAInfo,
		query:  "userId=" + url.QueryEscape(userID) + "&userIdType=" + url.QueryEscape(idType),
		auth:   true,
	}
	env, attempts, err := c.do(ctx, req, func(env envelope) error {
		var err error
		info, err = decodeMFA(env.Data)
		return err
	})
	if err != nil {
		return MFAInfo{}, err
	}
	info.RequestID = env.RequestID
	info.Attempts = attempts
	return info, nil
}

// ListUsers returns one page of the user pool (page from 1, limit 1 to 50)
// and the pool's total number of users, listed in the order sort asks
// (none: the API's own, which is not stable between pages).
func (c *Client) ListUsers(ctx context.Context, page, limit int, sort ...Sort) (users []User, total int, err error) {
	if page < 1 || limit < 1 || limit > 50 {
		return nil, 0, &Error{Class: ClassInvalid, Op: opListUsers,
			Message: fmt.Sprintf("page %d, limit %d: want page >= 1 and limit 1 to 50", page, limit)}
	}
	type pagination struct {
		Page  int `json:"page"`
		Limit int `json:"limit"`
	}
	type options struct {
		Pagination pagination `json:"pagination"`
		Sort       []Sort     `json:"sort,omitempty"`
	}
	body, err := json.Marshal(struct {
		Options           options `json:"options"`
		WithDepartmentIDs bool    `json:"withDepartmentIds"`
	}{options{pagination{page, limit}, sort}, true})
	if err != nil {
		return nil, 0, &Error{Class: ClassFatal, Op: opListUsers, Err: err}
	}
	req := &request{op: opListUsers, method: http.MethodPost, path: pathListUsers, body: body, auth: true}
	_, _, err = c.do(ctx, req, func(env envelope) error {
		var err error
		users, total, err = decodeUsers(env.Data)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// Stats returns the traffic counters and the limiter's current rate.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:       c.requests.Load(),
		Retries:        c.retried.Load(),
		Throttled:      c.throttled.Load(),
		TokenExchanges: c.exchanges.Load(),
		CurrentRate:    c.lim.Rate(),
		InFlight:       c.inFlight.Load(),
	}
}

// request is one API call.
type request struct {
	op     string
	method string
	path   string
	query  string // encoded, without the "?"
	body   []byte // nil: no body
	// auth marks a management call: it carries the token, takes a limiter
	// token and an in-flight slot per attempt, and counts in Stats.
	// The token exchange itself has auth false.
	auth   bool
	sentAt time.Time // when the latest attempt was sent
}

// answer is the outcome of one HTTP attempt.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or read error; status may be set
}

// do runs req, with retries. decode reads the data of a success; its
// error makes the answer malformed, which is retried. do returns the
// envelope of the success and the number of HTTP attempts.
func (c *Client) do(ctx context.Context, req *request, decode func(envelope) error) (envelope, int, error) {
	attempts, retry := 0, 0
	unauthorized := 0 // 401s in a row
	for {
		if err := ctx.Err(); err != nil {
			return envelope{}, attempts, canceledError(req.op, attempts, err)
		}
		var tok tokenState
		if req.auth {
			if err := c.lim.Wait(ctx); err != nil {
				if ctx.Err() == nil { // the caller's deadline is nearer than the next token
					err = fmt.Errorf("%w (rate limit wait: %v)", context.DeadlineExceeded, err)
				} else {
					err = ctx.Err()
				}
				return envelope{}, attempts, canceledError(req.op, attempts, err)
			}
			t, err := c.tok.token(ctx)
			if err != nil {
				return envelope{}, attempts, c.tokenError(req.op, attempts, err)
			}
			tok = t
			select {
			case c.sem <- struct{}{}:
			case <-ctx.Done():
				return envelope{}, attempts, canceledError(req.op, attempts, ctx.Err())
			}
			c.inFlight.Add(1)
			c.requests.Add(1)
			if attempts > 0 {
				c.retried.Add(1)
			}
		}
		attempts++
		req.sentAt = time.Now()
		ans := c.attempt(ctx, req, tok)
		if req.auth {
			c.inFlight.Add(-1)
			<-c.sem
		}

		var (
			env   envelope
			j     judgement
			cause error
		)
		switch {
		case ans.err != nil && ctx.Err() != nil:
			return envelope{}, attempts, canceledError(req.op, attempts, ctx.Err())
		case ans.err != nil && isCertError(ans.err):
			return envelope{}, attempts, &Error{Class: ClassFatal, Op: req.op,
				Message: "TLS certificate of " + c.base + " not trusted", Attempts: attempts, Err: ans.err}
		case ans.err != nil:
			j = judgement{verdict: verdictRetry, message: c.transportMessage(ans.err)}
			cause = ans.err
		default:
			var envErr error
			env, envErr = decodeEnvelope(ans.body)
			c.sanitize(&env, tok.token)
			j = classify(ans.status, env, envErr)
			if j.verdict == verdictRetry && envErr != nil && ans.status >= 200 && ans.status <= 299 {
				cause = envErr
				j.message = "undecodable answer"
				if ct := ans.header.Get("Content-Type"); ct != "" {
					j.message += " (" + c.cleanText(ct, 128, tok.token) + ")"
				}
			}
			if j.verdict == verdictOK {
				if err := decode(env); err != nil {
					j = judgement{verdict: verdictRetry, message: "undecodable answer"}
					cause = err
				} else {
					if req.auth {
						c.lim.Succeeded()
					}
					return env, attempts, nil
				}
			}
			if j.endpoint {
				if ct := mediaType(ans.header.Get("Content-Type")); ct != "" {
					j.message = strings.Replace(j.message, ":", ", "+ct+":", 1)
				}
			}
			if j.verdict == verdictFinal && j.class == ClassFatal && ans.status >= 300 && ans.status <= 399 {
				if loc := ans.header.Get("Location"); loc != "" {
					j.message += " to " + c.cleanText(loc, 256, tok.token)
				}
			}
		}
		if req.auth && j.verdict == verdictFinal {
			c.lim.Succeeded() // an answer, not a throttle: the rate is fine
		}
		if j.throttled {
			c.throttled.Add(1)
			if req.auth {
				c.lim.Throttled()
			}
		}
		fail := func(class Class, msg string) *Error {
			e := &Error{Class: class, Op: req.op, HTTPStatus: ans.status, APICode: env.APICode,
				Message: c.redact(msg, tok.token), RequestID: env.RequestID, Attempts: attempts, Err: cause}
			if env.HasStatus {
				e.StatusCode = env.StatusCode
			}
			return e
		}

		switch j.verdict {
		case verdictUnauthorized:
			if !req.auth {
				return envelope{}, attempts, fail(ClassAuth, c.refusedMessage(j.message))
			}
			c.tok.invalidate(tok.token)
			// A token can expire early on the server's side (or while this
			// request slept in backoff): renew it and retry. Credentials
			// are refused when a token fresh from the exchange is rejected
			// right after a renewal, or after three renewals in a row.
			unauthorized++
			fresh := req.sentAt.Sub(tok.obtained) < freshToken
			if unauthorized >= 3 || (unauthorized >= 2 && fresh) {
				return envelope{}, attempts, fail(ClassAuth, "token rejected again after a refresh: "+orDefault(j.message, "unauthorized"))
			}
			c.log.Debug("genauth: token rejected, renewing it and retrying", slog.String("op", req.op),
				slog.Int("attempt", attempts))
			continue
		case verdictFinal:
			if !req.auth {
				return envelope{}, attempts, fail(ClassAuth, c.refusedMessage(j.message))
			}
			return envelope{}, attempts, fail(j.class, j.message)
		}

		// verdictRetry
		unauthorized = 0
		if retry >= c.retries {
			msg := j.message
			if !req.auth {
				msg = "token exchange with " + c.base + " failed: " + msg
			}
			return envelope{}, attempts, fail(ClassRetryable, msg)
		}
		wait, fromServer := retryWait(retry, ans.header, c.maxRetryAfter, c.int64N)
		retry++
		c.log.Debug("genauth: retrying", slog.String("op", req.op), slog.Int("attempt", attempts),
			slog.Int("http_status", ans.status), slog.String("reason", c.redact(j.message, tok.token)),
			slog.Duration("wait", wait), slog.Bool("retry_after", fromServer))
		if err := sleep(ctx, wait); err != nil {
			return envelope{}, attempts, canceledError(req.op, attempts, err)
		}
	}
}

// mediaType is the type/subtype of a Content-Type header, at most 64
// characters of [A-Za-z0-9.+/-], for messages; "" when there is none.
func mediaType(ct string) string {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	if len(ct) > 64 {
		return ""
	}
	for _, c := range ct {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".+/-", c)) {
			return ""
		}
	}
	return strings.ToLower(ct)
}

// freshToken is how young a token must be for a 401 on it to mean that
// the credentials, not the token's age, are refused.
const freshToken = time.Second

// Header values every request shares; read-only.
var (
	hdrAcceptJSON  = []string{"application/json"}
	hdrLang        = []string{"en-US"}
	hdrContentJSON = []string{"application/json;charset=UTF-8"}
)

// header is the header of req, sent with tok when req.auth. Canonical keys,
// values built once.
func (c *Client) header(req *request, tok tokenState) http.Header {
	h := make(http.Header, 10)
	h["Accept"] = hdrAcceptJSON
	h["User-Agent"] = c.uaHeader
	h["X-Authing-Sdk-Version"] = c.uaHeader
	h["X-Authing-Lang"] = hdrLang
	h["X-Genauth-Lang"] = hdrLang
	if req.body != nil {
		h["Content-Type"] = hdrContentJSON
	}
	if req.auth {
		h["Authorization"] = tok.authHeader
		h["X-Authing-Userpool-Id"] = tok.poolHeader
		h["X-Genauth-Userpool-Id"] = tok.poolHeader
		if c.tenantID != "" {
			h["X-Authing-App-Tenant-Id"] = c.tenantHeader
		}
	}
	return h
}

// getHeader is the header of a management GET with tok: built once per
// token and shared by every request that carries it (net/http only reads a
// request's header, and the client hands it straight to the transport).
func (c *Client) getHeader(tok tokenState) http.Header {
	if h := c.getHdr.Load(); h != nil && h.token == tok.token {
		return h.header
	}
	h := &tokenHeader{token: tok.token, header: c.header(&request{method: http.MethodGet, auth: true}, tok)}
	c.getHdr.Store(h)
	return h.header
}

// tokenHeader is a request header and the token it carries.
type tokenHeader struct {
	token  string
	header http.Header
}

// attempt makes one HTTP request within the per-attempt timeout and reads
// the whole answer.
func (c *Client) attempt(ctx context.Context, req *request, tok tokenState) answer {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + req.path
	if req.query != "" {
		u += "?" + req.query
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, u, body)
	if err != nil {
		return answer{err: err}
	}
	if req.auth && req.body == nil {
		hreq.Header = c.getHeader(tok)
	} else {
		hreq.Header = c.header(req, tok)
	}
	resp, err := c.rt.RoundTrip(hreq)
	if err != nil {
		return answer{err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	c.noteFake(resp.Header)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	ans := answer{status: resp.StatusCode, header: resp.Header, body: b}
	switch {
	case err != nil:
		ans.err = fmt.Errorf("reading the answer: %w", unwrapURLError(err))
	case len(b) > maxBody:
		ans.body = nil
		ans.err = malformed("answer larger than %d bytes", maxBody)
	}
	return ans
}

// exchange is the tokenSource's fetch: one get-management-token call with
// its retries.
func (c *Client) exchange(ctx context.Context) (exchanged, error) {
	body, err := json.Marshal(struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
	}{c.accessKeyID, c.secret})
	if err != nil {
		return exchanged{}, &Error{Class: ClassAuth, Op: opToken, Message: "encoding the request failed"}
	}
	var x exchanged
	req := &request{op: opToken, method: http.MethodPost, path: pathToken, body: body}
	_, _, err = c.do(ctx, req, func(env envelope) error {
		tok, exp, err := decodeToken(env.Data)
		if err != nil {
			return err
		}
		x = exchanged{token: tok, expiresIn: exp, sentAt: req.sentAt}
		return nil
	})
	if err != nil {
		return exchanged{}, err
	}
	c.exchanges.Add(1)
	c.log.Debug("genauth: management token obtained", slog.String("host", c.base),
		slog.Duration("expires_in", x.expiresIn))
	return x, nil
}

// tokenError is the error of a call that could not get a token: the
// exchange's own *Error, or the caller's cancellation.
func (c *Client) tokenError(op string, attempts int, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return canceledError(op, attempts, err)
	}
	return &Error{Class: ClassAuth, Op: opToken, Message: c.redact(err.Error()), Err: err}
}

// refusedMessage explains a refused token exchange.
func (c *Client) refusedMessage(server string) string {
	return "token exchange with " + c.base + " refused: " + orDefault(server, "no reason given") +
		" (check GENAUTH_ACCESS_KEY_ID and the secret)"
}

// redact removes the secret and the current token from a text that came
// from the server, which should never echo them, but a proxy might.
// used is the token the request carried, if any.
func (c *Client) redact(s string, used ...string) string {
	u := ""
	if len(used) > 0 {
		u = used[0]
	}
	for _, f := range c.secretForms(u) {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redactedText)
		}
	}
	return s
}

// transportMessage describes a transport error briefly.
func (c *Client) transportMessage(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %s", c.timeout)
	}
	return "transport error"
}

// unwrapURLError drops net/http's *url.Error wrapper, whose text repeats
// the whole URL (with the user's identifier).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isCertError reports a TLS verification failure, which retrying will not
// mend.
func isCertError(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

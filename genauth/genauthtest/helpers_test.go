package genauthtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// body is a decoded V3 answer.
type body struct {
	StatusCode int             `json:"statusCode"`
	Message    string          `json:"message"`
	APICode    json.RawMessage `json:"apiCode"`
	RequestID  string          `json:"requestId"`
	Data       json.RawMessage `json:"data"`
}

// reply is one HTTP exchange as a client saw it.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   body
	err    error // transport error
	decErr error // body was not JSON
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testClient talks to a Server over real HTTP.
type testClient struct {
	t     testing.TB
	s     *Server
	hc    *http.Client
	token string
	lang  string
}

func newTestClient(t testing.TB, s *Server) *testClient {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &testClient{t: t, s: s, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// startServer starts a server closed at the end of the test.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

func (c *testClient) do(req *http.Request) reply {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw, err: err}
	r.decErr = json.Unmarshal(raw, &r.body)
	return r
}

func (c *testClient) exchange(id, secret string) reply {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"accessKeyId": id, "accessKeySecret": secret})
	req, _ := http.NewRequest(http.MethodPost, c.s.URL+PathToken, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return c.do(req)
}

// login exchanges the right credentials and keeps the token.
func (c *testClient) login() string {
	c.t.Helper()
	r := c.exchange(c.s.PoolID, c.s.Secret)
	if r.err != nil || r.status != 200 || r.body.StatusCode != 200 {
		c.t.Fatalf("token exchange: err=%v HTTP %d body %s", r.err, r.status, r.raw)
	}
	var d struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(r.body.Data, &d); err != nil || d.AccessToken == "" {
		c.t.Fatalf("token data %s: %v", r.body.Data, err)
	}
	c.token = d.AccessToken
	return d.AccessToken
}

func (c *testClient) mfaRequest(method, idType, userID string) *http.Request {
	q := url.Values{"userId": {userID}}
	if idType != "" {
		q.Set("userIdType", idType)
	}
	req, err := http.NewRequest(method, c.s.URL+PathMFAInfo+"?"+q.Encode(), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("x-authing-userpool-id", c.s.PoolID)
	req.Header.Set("x-genauth-userpool-id", c.s.PoolID)
	if c.lang != "" {
		req.Header.Set("x-authing-lang", c.lang)
	}
	return req
}

func (c *testClient) mfa(idType, userID string) reply {
	c.t.Helper()
	return c.do(c.mfaRequest(http.MethodGet, idType, userID))
}

func (c *testClient) list(reqBody string) reply {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.s.URL+PathListUsers, strings.NewReader(reqBody))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("x-authing-userpool-id", c.s.PoolID)
	req.Header.Set("x-genauth-userpool-id", c.s.PoolID)
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return c.do(req)
}

// statuses decodes the data of an MFA answer into raw fields (absent
// fields are missing from the map).
func statuses(t testing.TB, r reply) map[string]json.RawMessage {
	t.Helper()
	if r.err != nil || r.decErr != nil || r.status != 200 || r.body.StatusCode != 200 {
		t.Fatalf("want a 200 answer, got err=%v HTTP %d body %s", r.err, r.status, r.raw)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(r.body.Data, &m); err != nil {
		t.Fatalf("data %s: %v", r.body.Data, err)
	}
	return m
}

// bound reads a status field in either form.
func bound(t testing.TB, v json.RawMessage) bool {
	t.Helper()
	switch string(v) {
	case `"enabled"`, "true":
		return true
	case `"disabled"`, "false":
		return false
	}
	t.Fatalf("status %s is not enabled/disabled/true/false", v)
	return false
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

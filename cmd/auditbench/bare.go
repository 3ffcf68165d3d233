package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The GenAuth endpoints the bare loop calls.
const (
	pathToken   = "/api/v3/get-management-token"
	pathMFAInfo = "/api/v3/get-user-mfa-info"
)

// bareResult is one run of the bare HTTP loop.
type bareResult struct {
	Requests int
	Errors   int64 // transport errors and non-200 answers
	Duration time.Duration
	CPU      time.Duration // auditbench's CPU time during the loop
}

func (r bareResult) RPS() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// bareLoop is the ceiling the end-to-end run is compared with: n GETs of
// get-user-mfa-info for distinct ids shaped like GenAuth's (prefix and
// decimal digits, 24 characters in all: the fake answers them with a user's
// factors, as it answers the end-to-end run's), c in flight over keep-alive
// connections, each body read and discarded, nothing else.
func bareLoop(ctx context.Context, base, poolID, secret string, c, n int, prefix string) (bareResult, error) {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * c,
		MaxIdleConnsPerHost: 2 * c,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	tok, err := managementToken(ctx, hc, base, poolID, secret)
	if err != nil {
		return bareResult{}, err
	}
	// The same request the API contract asks of the audit client
	// (genauth-api.md: both pool headers, language, SDK version, agent),
	// so that the loop and the job make the same calls.
	hdr := http.Header{
		"Authorization":         {"Bearer " + tok},
		"X-Authing-Userpool-Id": {poolID},
		"X-Genauth-Userpool-Id": {poolID},
		"Accept":                {"application/json"},
		"User-Agent":            {"mfa-audit/bench"},
		"X-Authing-Sdk-Version": {"mfa-audit/bench"},
		"X-Authing-Lang":        {"en-US"},
		"X-Genauth-Lang":        {"en-US"},
	}
	prefixURL := base + pathMFAInfo + "?userIdType=user_id&userId=" + prefix

	var (
		next    atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
		firstMu sync.Mutex
		first   error
	)
	cpu0 := selfCPU()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, len(prefixURL)+16)
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				buf = append(buf[:0], prefixURL...)
				buf = appendPadded(buf, i, idLen-len(prefix))
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, string(buf), nil)
				if err != nil {
					panic(err) // the URL is ours
				}
				req.Header = hdr // read-only: the transport does not modify it
				resp, err := hc.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					firstMu.Lock()
					if first == nil {
						first = err
					}
					firstMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	res := bareResult{Requests: n, Errors: errs.Load(), Duration: time.Since(start), CPU: selfCPU() - cpu0}
	if err := ctx.Err(); err != nil {
		return res, context.Cause(ctx)
	}
	if res.Errors > int64(n)/100 {
		return res, fmt.Errorf("bare loop: %d of %d requests failed, first: %v", res.Errors, n, first)
	}
	return res, nil
}

// idLen is the length of a GenAuth user id (24 hexadecimal digits).
const idLen = 24

// appendPadded appends i in decimal, zero-padded to width digits.
func appendPadded(b []byte, i int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], i, 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// managementToken exchanges the pool credentials for an access token.
func managementToken(ctx context.Context, hc *http.Client, base, poolID, secret string) (string, error) {
	body, _ := json.Marshal(map[string]string{"accessKeyId": poolID, "accessKeySecret": secret})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+pathToken, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("get-management-token: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Data       struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return "", fmt.Errorf("get-management-token: HTTP %d: %w", resp.StatusCode, err)
	}
	if ans.StatusCode != 200 || ans.Data.AccessToken == "" {
		return "", fmt.Errorf("get-management-token: statusCode %d: %s", ans.StatusCode, ans.Message)
	}
	return ans.Data.AccessToken, nil
}

package genauthtest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
)

// BenchmarkMFAInfo measures get-user-mfa-info over loopback at zero latency
// with parallel keep-alive clients: the fake must not be the bottleneck of
// the project's throughput benchmark.
func BenchmarkMFAInfo(b *testing.B) {
	s := startServer(b, Options{Synthesize: true})
	c := newTestClient(b, s)
	tok := c.login()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q := url.Values{"userId": {fmt.Sprintf("%024x", n.Add(1))}, "userIdType": {"user_id"}}
			req, _ := http.NewRequest(http.MethodGet, s.URL+PathMFAInfo+"?"+q.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("x-authing-userpool-id", s.PoolID)
			req.Header.Set("x-genauth-userpool-id", s.PoolID)
			resp, err := c.hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkHandler measures the handler alone, without the network.
func BenchmarkHandler(b *testing.B) {
	s := NewUnstartedServer(Options{Synthesize: true})
	defer s.Close()
	tok := newToken(s.PoolID, s.now(), DefaultTokenTTL)
	s.tokens.add(tok, s.now().Add(DefaultTokenTTL), s.now())
	h := s.Handler()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, PathMFAInfo+"?userId="+fmt.Sprintf("%024x", n.Add(1)), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("x-authing-userpool-id", s.PoolID)
			req.Header.Set("x-genauth-userpool-id", s.PoolID)
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

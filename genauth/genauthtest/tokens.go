package genauthtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// tokenStore maps issued access tokens to their expiry. Readers load an
// immutable map without locking; issuing (rare) copies it under mu and
// drops expired tokens.
type tokenStore struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]time.Time]
}

type tokenState int

const (
	tokenValid tokenState = iota
	tokenMissing
	tokenUnknown
	tokenExpired
)

func (t *tokenStore) check(tok string, now time.Time) tokenState {
	if tok == "" {
		return tokenMissing
	}
	p := t.m.Load()
	if p == nil {
		return tokenUnknown
	}
	exp, ok := (*p)[tok]
	switch {
	case !ok:
		return tokenUnknown
	case !now.Before(exp):
		return tokenExpired
	}
	return tokenValid
}

func (t *tokenStore) add(tok string, exp, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := make(map[string]time.Time)
	if p := t.m.Load(); p != nil {
		for k, e := range *p {
			if now.Before(e) {
				next[k] = e
			}
		}
	}
	next[tok] = exp
	t.m.Store(&next)
}

func (t *tokenStore) revokeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.Store(nil)
}

// newToken makes a random JWT-shaped token whose payload carries the
// scoped_userpool_id claim (the signature is random bytes: clients decode
// the claims without verifying).
func newToken(poolID string, now time.Time, ttl time.Duration) string {
	var jti, sig [16]byte
	_, _ = rand.Read(jti[:])
	_, _ = rand.Read(sig[:])
	payload, _ := json.Marshal(struct {
		PoolID string `json:"scoped_userpool_id"`
		Iss    string `json:"iss"`
		Iat    int64  `json:"iat"`
		Exp    int64  `json:"exp"`
		Jti    string `json:"jti"`
	}{poolID, "genauthtest", now.Unix(), now.Add(ttl).Unix(), hex.EncodeToString(jti[:])})
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString(payload) + "." + enc.EncodeToString(sig[:])
}

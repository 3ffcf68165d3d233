package genauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// defaultTokenLifetime is assumed when neither expires_in nor the JWT says.
const defaultTokenLifetime = 7200 * time.Second

// maxRefreshMargin is how long before expiry a long-lived token is renewed.
const maxRefreshMargin = 5 * time.Minute

// tokenState is the management token in use. The zero value is "none".
type tokenState struct {
	token     string
	poolID    string    // for the x-*-userpool-id headers
	obtained  time.Time // when the exchange that made it was sent
	expiry    time.Time // the server stops accepting it
	refreshAt time.Time // renew from then on
	// The header values built once per token and shared by every request
	// (net/http only reads them).
	authHeader, poolHeader []string
}

func (s tokenState) validAt(now time.Time) bool { return s.token != "" && now.Before(s.expiry) }

// exchanged is what one successful token exchange returned.
type exchanged struct {
	token     string
	expiresIn time.Duration // 0: not said
	sentAt    time.Time     // when the successful attempt was sent
}

// exchangeCall is one token exchange in progress, shared by every caller
// that waits for it.
type exchangeCall struct {
	done    chan struct{} // closed when st and err are set
	cancel  context.CancelFunc
	waiters int // callers waiting; the exchange is cancelled when none is left
	st      tokenState
	err     error
}

// tokenSource holds the one management token of a Client. Exchanges are
// single-flight: one at a time, whoever needs a token waits for it, and a
// caller whose ctx ends stops waiting (the exchange is cancelled when no one
// waits any more). The token is renewed ahead of expiry: by the first caller
// past refreshAt while the others go on with the still valid token.
type tokenSource struct {
	fetch     func(ctx context.Context) (exchanged, error) // one exchange, retries included
	defPoolID string                                       // when the JWT names no pool
	log       *slog.Logger

	mu   sync.Mutex
	cur  tokenState
	call *exchangeCall
}

// token returns a token valid now, exchanging one first when needed.
func (ts *tokenSource) token(ctx context.Context) (tokenState, error) {
	for {
		ts.mu.Lock()
		now := time.Now()
		cur := ts.cur
		valid := cur.validAt(now)
		if valid && now.Before(cur.refreshAt) {
			ts.mu.Unlock()
			return cur, nil
		}
		call := ts.call
		if call != nil && valid {
			ts.mu.Unlock() // someone renews ahead of expiry: go on meanwhile
			return cur, nil
		}
		if call == nil {
			call = ts.startLocked(ctx)
		}
		call.waiters++
		ts.mu.Unlock()

		select {
		case <-call.done:
		case <-ctx.Done():
			ts.mu.Lock()
			call.waiters--
			if call.waiters == 0 && ts.call == call {
				ts.call = nil
				call.cancel()
			}
			ts.mu.Unlock()
			return tokenState{}, ctx.Err()
		}
		if call.err == nil {
			return call.st, nil
		}
		ts.mu.Lock()
		stillValid := ts.cur.validAt(time.Now()) && ErrorClass(call.err) != ClassAuth
		ts.mu.Unlock()
		if !stillValid {
			return tokenState{}, call.err
		}
		// A renewal ahead of expiry failed for a passing reason: the old
		// token is still good (finish's bookkeeping delays the next try).
	}
}

// startLocked starts an exchange. ts.mu must be held.
func (ts *tokenSource) startLocked(ctx context.Context) *exchangeCall {
	xctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	call := &exchangeCall{done: make(chan struct{}), cancel: cancel}
	ts.call = call
	go func() {
		defer cancel()
		x, err := ts.fetch(xctx)
		ts.finish(call, x, err)
	}()
	return call
}

// finish stores the outcome of an exchange and wakes its waiters.
func (ts *tokenSource) finish(call *exchangeCall, x exchanged, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.call == call {
		ts.call = nil
	}
	if err == nil {
		call.st = ts.stateFor(x)
		ts.cur = call.st
	} else if now := time.Now(); ts.cur.validAt(now) && ErrorClass(err) != ClassAuth {
		// Try again halfway to expiry rather than on every call.
		ts.cur.refreshAt = now.Add(ts.cur.expiry.Sub(now) / 2)
		ts.log.Warn("genauth: renewing the management token failed; the current one stays in use",
			slog.String("error", err.Error()), slog.Duration("valid_for", ts.cur.expiry.Sub(now)))
	}
	call.err = err
	close(call.done)
}

// stateFor computes expiry and renewal time of a fresh token: renew when
// less than min(5 min, 20 % of its lifetime) is left (so a 2 s token is
// renewed after 1.6 s, a 2 h one 5 min before it expires). The lifetime
// counts from when the exchange was sent, which errs on the early side.
func (ts *tokenSource) stateFor(x exchanged) tokenState {
	claims := jwtClaims(x.token)
	life := x.expiresIn
	if life <= 0 && claims.exp > 0 {
		if claims.iat > 0 && claims.exp > claims.iat {
			life = time.Duration(claims.exp-claims.iat) * time.Second
		} else if d := time.Until(time.Unix(claims.exp, 0)); d > 0 {
			life = d
		}
	}
	if life <= 0 {
		life = defaultTokenLifetime
	}
	margin := min(maxRefreshMargin, life/5)
	poolID := claims.poolID
	if poolID == "" {
		poolID = ts.defPoolID
	}
	return tokenState{
		token:      x.token,
		poolID:     poolID,
		obtained:   x.sentAt,
		expiry:     x.sentAt.Add(life),
		refreshAt:  x.sentAt.Add(life - margin),
		authHeader: []string{"Bearer " + x.token},
		poolHeader: []string{poolID},
	}
}

// invalidate drops tok after the API rejected it, unless it was replaced
// already: N workers rejected with the same token cause one exchange.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cur.token == tok {
		ts.cur = tokenState{}
	}
}

// renew exchanges a token now, or joins the exchange in progress.
func (ts *tokenSource) renew(ctx context.Context) (tokenState, error) {
	ts.mu.Lock()
	ts.cur = tokenState{}
	ts.mu.Unlock()
	return ts.token(ctx)
}

// current is the token in use ("" when none), for redaction.
func (ts *tokenSource) current() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.cur.token
}

// claims are the parts of the token's JWT payload the client uses.
type claims struct {
	poolID   string
	iat, exp int64
}

// jwtClaims decodes the payload of a JWT without verifying it (the client
// only reads its own pool ID and the lifetime from it). A token that is not
// a JWT gives zero claims.
func jwtClaims(tok string) claims {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return claims{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}
	}
	var raw struct {
		ScopedUserpoolID json.RawMessage `json:"scoped_userpool_id"`
		Iat              json.RawMessage `json:"iat"`
		Exp              json.RawMessage `json:"exp"`
	}
	if json.Unmarshal(payload, &raw) != nil {
		return claims{}
	}
	var c claims
	c.poolID = strings.TrimSpace(flexString(raw.ScopedUserpoolID))
	if f, ok, err := flexFloat(raw.Iat); ok && err == nil && f > 0 && f < 1e11 {
		c.iat = int64(f)
	}
	if f, ok, err := flexFloat(raw.Exp); ok && err == nil && f > 0 && f < 1e11 {
		c.exp = int64(f)
	}
	return c
}

// Package reach tells an outage from a mistake when a service the run needs
// (Postgres today; object storage and mail alike) is first connected to. An
// outage (connection refused or reset, DNS failure, timeout, a server that
// is starting up or full) is retried with backoff for a budget, about a
// minute, and then reported as *Unreachable: exit 1, for the scheduler to
// retry later. Anything else (a bad value, refused credentials, a missing
// database) is returned at once: exit 2, a person must fix it (SPEC 8).
package reach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultBudget is how long a service that cannot be reached is retried.
const DefaultBudget = time.Minute

// Unreachable is the error of a service that could not be reached within
// the budget: a retry later may succeed.
type Unreachable struct {
	What     string        // the service and the variable naming it
	Attempts int           // connection attempts made
	Waited   time.Duration // how long they took
	Err      error         // the last attempt's error
}

func (e *Unreachable) Error() string {
	return fmt.Sprintf("%s: unreachable after %d attempts in %s (a later run may succeed): %v",
		e.What, e.Attempts, e.Waited.Round(time.Second), e.Err)
}

func (e *Unreachable) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is, or wraps, an *Unreachable.
func IsUnreachable(err error) bool {
	var u *Unreachable
	return errors.As(err, &u)
}

// Transient reports whether err looks like an outage rather than a
// mistake: a network error (refused, reset, unreachable, DNS, timeout), or
// a Postgres server that cannot take the connection now (starting up,
// shutting down, too many connections).
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P03", "57P01", "57P02", "53300", "08000", "08001", "08003", "08004", "08006":
			return true
		}
		return false // 28P01 bad password, 28000 no such role, 3D000 no such database ...
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EHOSTUNREACH,
		syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN, syscall.ETIMEDOUT, syscall.EPIPE,
		io.ErrUnexpectedEOF, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// Budget is one start-up phase's time for reaching services: every Connect
// of a run shares it, so an output and a source that are both down cost one
// budget, not two. Safe for concurrent use.
type Budget struct {
	d   time.Duration
	log *slog.Logger

	once     sync.Once
	deadline time.Time
}

// NewBudget returns a budget of d (0 or less: one attempt, no retry),
// logging each retry to log (which may be nil).
func NewBudget(d time.Duration, log *slog.Logger) *Budget {
	return &Budget{d: d, log: log}
}

// Backoff is the wait before attempt n+1 (n from 1): 1 s doubling to 15 s,
// with jitter of up to a quarter.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 4)
	d = min(d, 15*time.Second)
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

// maxAttempt bounds one connection attempt, so a silent network (packets
// dropped) cannot hold the run for the kernel's TCP timeout.
const maxAttempt = 20 * time.Second

// Connect calls connect until it succeeds, fails with an error that is not
// Transient (returned as it is), or the budget runs out (an *Unreachable
// naming what). Each attempt's context ends after 20 s or at the budget's
// end, but only if the attempt has not returned: a connection that
// succeeded keeps its context (a streaming query may still use it).
func (b *Budget) Connect(ctx context.Context, what string, connect func(context.Context) error) error {
	b.once.Do(func() { b.deadline = time.Now().Add(max(b.d, 0)) })
	start := time.Now()
	for n := 1; ; n++ {
		limit := min(maxAttempt, max(time.Until(b.deadline), time.Second))
		actx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(limit, cancel)
		err := connect(actx)
		cut := !timer.Stop() // the attempt ran out of time
		if err == nil {
			return nil // actx lives on with the connection; it ends with ctx
		}
		cancel()
		if ctx.Err() != nil {
			return err
		}
		if cut && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (no answer within %s)", context.DeadlineExceeded, limit)
		}
		if !Transient(err) {
			return err
		}
		wait := Backoff(n)
		if b.d <= 0 || time.Now().Add(wait).After(b.deadline) {
			return &Unreachable{What: what, Attempts: n, Waited: time.Since(start), Err: err}
		}
		if b.log != nil {
			b.log.Warn("cannot reach a service, retrying", "service", what, "attempt", n, "wait", wait.Round(time.Millisecond).String(), "err", err.Error())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

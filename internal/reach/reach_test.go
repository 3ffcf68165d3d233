package reach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestConnectRetriesAnOutageForTheBudget: a service that stays down is
// retried with backoff for about the budget (in fake time), then reported
// as Unreachable wrapping the last error.
func TestConnectRetriesAnOutageForTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(time.Minute, nil)
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		calls := 0
		start := time.Now()
		err := b.Connect(context.Background(), "Postgres (AUDIT_OUTPUT x)", func(context.Context) error {
			calls++
			return fmt.Errorf("AUDIT_OUTPUT x: %w", refused)
		})
		took := time.Since(start)
		var u *Unreachable
		if !errors.As(err, &u) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("err %v, want Unreachable wrapping ECONNREFUSED", err)
		}
		if took < 45*time.Second || took > time.Minute || calls < 5 || u.Attempts != calls {
			t.Errorf("%d attempts over %s (Unreachable says %d)", calls, took, u.Attempts)
		}
	})
}

// TestConnectStopsAtAMistake: credentials refused are returned at once.
func TestConnectStopsAtAMistake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		mistake := &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}
		err := NewBudget(time.Minute, nil).Connect(context.Background(), "x", func(context.Context) error {
			calls++
			return mistake
		})
		if calls != 1 || !errors.Is(err, mistake) || IsUnreachable(err) {
			t.Errorf("%d calls, err %v", calls, err)
		}
	})
}

// TestConnectRecovers: a service back after a few attempts is used, and
// the attempt's context stays alive after success.
func TestConnectRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		var kept context.Context
		err := NewBudget(time.Minute, nil).Connect(context.Background(), "x", func(ctx context.Context) error {
			calls++
			if calls < 3 {
				return &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}
			}
			kept = ctx
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("%d calls, err %v", calls, err)
		}
		time.Sleep(5 * time.Minute)
		if kept.Err() != nil {
			t.Error("the successful attempt's context was cancelled")
		}
	})
}

// TestConnectBoundsASilentAttempt: an attempt that never answers is cut at
// the budget's end.
func TestConnectBoundsASilentAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := NewBudget(30*time.Second, nil).Connect(context.Background(), "x", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if !IsUnreachable(err) || time.Since(start) > 45*time.Second {
			t.Errorf("after %s: %v", time.Since(start), err)
		}
	})
}

// TestTransientWithRealPostgresErrors classifies what pgx returns for a
// refused port, an unknown host and, with AUDIT_TEST_DATABASE_URL, an
// unknown role (a mistake).
func TestTransientWithRealPostgresErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"postgres://u:pw@127.0.0.1:1/db?connect_timeout=2", "postgres://u:pw@no-such-host.invalid/db?connect_timeout=2"} {
		_, err := pgx.Connect(ctx, u)
		if err == nil || !Transient(err) {
			t.Errorf("%s: %v is not transient", u, err)
		}
	}
	if base := os.Getenv("AUDIT_TEST_DATABASE_URL"); base != "" {
		cfg, err := pgx.ParseConfig(base)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User = "no_such_role_h15"
		_, err = pgx.ConnectConfig(ctx, cfg)
		if err == nil || Transient(err) {
			t.Errorf("an unknown role: %v is transient", err)
		}
	}
}

// Package genauthtest is a fake GenAuth (Authing) V3 management API server,
// in the manner of net/http/httptest. It speaks the wire protocol described
// in genauth-api.md: get-management-token, get-user-mfa-info and list-users.
//
// It serves a directory of users (AddUser, or Options.Synthesize for
// arbitrary ids), injects faults on demand (Faults: latency, timeouts,
// HTTP and body 429/5xx, connection resets, malformed bodies, a real rate
// limit) and counts what it sees (Counters). Faults are drawn from a seeded,
// deterministic source and only hit a subject's first FaultAttempts
// attempts, so a client with enough retries always gets a final answer.
//
// The same Server is used by the GenAuth client's tests, the pipeline's
// tests, `audit demo` (in-process) and `audit fake-genauth` (standalone).
// The request path takes no global lock: counters are atomics, per-subject
// state lives in a sharded map, tokens and the directory are read without
// locks.
package genauthtest

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultPoolID        = "fake-pool-id"
	DefaultSecret        = "fake-secret"
	DefaultTokenTTL      = 7200 * time.Second
	DefaultFaultAttempts = 2
)

// Options configure a Server. The zero value is a working server with pool
// DefaultPoolID, secret DefaultSecret, an empty directory and no faults.
type Options struct {
	// PoolID is the user pool id: the accessKeyId the token endpoint accepts
	// and the value both x-*-userpool-id headers must carry.
	PoolID string
	// Secret is the accessKeySecret the token endpoint accepts.
	Secret string

	// Users are added to the directory before the server starts.
	Users []User
	// Synthesize answers a well-formed id that is not in the directory as
	// if such a user existed, with bindings from SynthesizedState; a
	// user_id that is not 24 hexadecimal characters is not found, as the
	// real API answers (so a column of e-mails audited as user_id is).
	// list-users still serves the directory only.
	Synthesize bool

	// Faults are the initial fault switches; see also (*Server).SetFaults.
	Faults Faults
	// List are the initial list-users switches; see SetListBehaviour.
	List ListBehaviour
	// Seed seeds the deterministic fault draws: the same seed, subject and
	// attempt number always draw the same fault.
	Seed int64
	// FaultAttempts is how many attempts of one subject faults may hit;
	// later attempts are always clean (MaxRPS excepted). 0 means
	// DefaultFaultAttempts; a negative value lets faults hit every attempt.
	// An attempt is a get-user-mfa-info call that passed MaxRPS, the
	// latency wait and the token and pool-header checks: calls answered
	// 429 by MaxRPS, 401 or 403, or abandoned by the client during the
	// latency wait, do not count. A subject is (userIdType, userId) as
	// received, userIdType defaulting to "user_id".
	FaultAttempts int
	// ForgetSubjects keeps per-subject state as hashes only (less memory
	// for millions of subjects); AnsweredSubjects then returns nil.
	ForgetSubjects bool

	// Now is the server's clock for token expiry and the MaxRPS bucket;
	// default time.Now.
	Now func() time.Time
	// Logger receives the server's few log lines (start, injected faults at
	// debug level, net/http errors). Nil: the server logs nothing.
	Logger *slog.Logger
}

// Server is a fake GenAuth management API. Make one with NewServer,
// NewServerAt or NewUnstartedServer; all methods are safe for concurrent
// use.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:port", without a trailing
	// slash; empty until the server is started.
	URL string
	// PoolID and Secret are the credentials the server accepts.
	PoolID string
	Secret string

	opts          Options
	faultAttempts int
	now           func() time.Time
	logger        *slog.Logger

	faults   atomic.Pointer[Faults]
	list     atomic.Pointer[ListBehaviour]
	listSeq  atomic.Uint64 // list-users requests served
	added    atomic.Uint64 // users ListBehaviour.AddPerPage created
	dir      directory
	tokens   tokenStore
	ctrs     counters
	subjects subjectTable
	limiter  bucket
	handler  http.Handler

	ctx    context.Context // cancelled by Close: ends every wait
	cancel context.CancelFunc
	active atomic.Int64 // handlers running

	mu      sync.Mutex // guards srv, ln, started/closed state
	srv     *http.Server
	ln      net.Listener
	closed  bool
	closeWG sync.WaitGroup // the Serve goroutine

	// testHook, when set (tests only), runs inside the MFA handler after
	// faults were applied and before the answer is written.
	testHook func(r *http.Request)
	// onWait, when set (tests only), runs when a latency or slow wait starts.
	onWait func()
}

// NewUnstartedServer returns a Server that is not listening yet: call Start,
// or use Handler with a server of your own.
func NewUnstartedServer(opts Options) *Server {
	s := &Server{
		PoolID:        opts.PoolID,
		Secret:        opts.Secret,
		opts:          opts,
		faultAttempts: opts.FaultAttempts,
		now:           opts.Now,
		logger:        opts.Logger,
	}
	if s.PoolID == "" {
		s.PoolID = DefaultPoolID
	}
	if s.Secret == "" {
		s.Secret = DefaultSecret
	}
	if s.faultAttempts == 0 {
		s.faultAttempts = DefaultFaultAttempts
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.subjects.init(!opts.ForgetSubjects)
	s.SetFaults(opts.Faults)
	s.SetListBehaviour(opts.List)
	s.AddUsers(opts.Users...)
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

// NewServer starts a Server on 127.0.0.1 at a free port, like
// httptest.NewServer; it panics if it cannot listen. Close it when done.
func NewServer(opts Options) *Server {
	s := NewUnstartedServer(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		panic(fmt.Sprintf("genauthtest: %v", err))
	}
	return s
}

// NewServerAt starts a Server listening on addr (host:port; port 0 picks a
// free one), for `audit fake-genauth --addr`.
func NewServerAt(addr string, opts Options) (*Server, error) {
	s := NewUnstartedServer(opts)
	if err := s.Start(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// Start listens on addr and serves in the background; s.URL is set when it
// returns. It fails if the server was already started or closed.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("genauthtest: Start after Close")
	}
	if s.srv != nil {
		return errors.New("genauthtest: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("genauthtest: listening on %s: %w", addr, err)
	}
	errLog := log.New(discard{}, "", 0)
	if s.opts.Logger != nil {
		errLog = slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s.handler,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          errLog,
	}
	s.closeWG.Add(1)
	go func() {
		defer s.closeWG.Done()
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	s.logger.Info("fake GenAuth server listening", "url", s.URL, "pool_id", s.PoolID,
		"faults", s.Faults().String(), "users", s.dir.len(), "synthesize", s.opts.Synthesize)
	return nil
}

// Addr returns the listening address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops the server: it ends every pending latency or slow wait,
// closes the listener and all connections, and waits (a few seconds at
// most) for running handlers to return, so counters are final afterwards.
// Close may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	srv := s.srv
	s.mu.Unlock()

	s.cancel()
	if srv != nil {
		_ = srv.Close()
		s.closeWG.Wait()
	}
	// Handlers observe s.ctx and return promptly; a handler that was
	// about to start sees the cancelled context and returns too.
	deadline := time.Now().Add(5 * time.Second)
	for s.active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// Handler returns the server's http.Handler, usable with a server of your
// own (httptest.NewServer(s.Handler())). Resets need a connection that can
// be hijacked; otherwise the handler aborts the response instead.
func (s *Server) Handler() http.Handler { return s.handler }

// SetFaults replaces the fault switches; requests that arrive afterwards use
// them. Safe to call while serving.
func (s *Server) SetFaults(f Faults) {
	f2 := f
	s.faults.Store(&f2)
}

// Faults returns the current fault switches.
func (s *Server) Faults() Faults { return *s.faults.Load() }

// RevokeTokens invalidates every token issued so far: the next call with
// one of them gets a 401, as after an expiry.
func (s *Server) RevokeTokens() { s.tokens.revokeAll() }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

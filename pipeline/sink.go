package pipeline

import (
	"context"
	"time"
)

// RunInfo describes a run to the sinks before the first result.
type RunInfo struct {
	RunID     string
	StartedAt time.Time
	Source    string // Source.Describe()
	Host      string // GenAuth host
	Hostname  string // machine the job ran on
	Version   string // tool version
	Policy    Policy
	GroupBy   string
	Shard     Shard
	AttrNames []string // attribute columns in source order
	// Exceptions is true when the run applies an exceptions register
	// (SPEC 14): the flat layouts then show exception.<field> columns.
	Exceptions bool
	// Config is the effective configuration without secrets, variable name
	// to value, for the Run sheet and the runs row.
	Config map[string]string
	// Evidence, when set, ties printed reports to the run's evidence
	// manifest (SPEC 15); sinks read it at Close.
	Evidence *Evidence
	// FakeAPI is true when the answers came from the built-in fake GenAuth
	// server: the reports say FAKE API at their top (SPEC 10).
	FakeAPI bool
}

// Evidence is what a printed page shows to be tied to its evidence: the
// build, the input's SHA-256 and where the manifest is.
type Evidence struct {
	Revision string // VCS revision of the build; "" when unknown
	Manifest string // where the manifest is written; "" for none
	// InputSHA256 returns the SHA-256 of the input as read; "" when unknown.
	// For stdin it is known once the whole input has been read, so sinks
	// call it at Close.
	InputSHA256 func() string
}

// Sink consumes results as they stream and the final summary.
//
// The pipeline calls Open once, then Write for every result in input order,
// then Close once with the final summary, all from one goroutine, so a sink
// needs no locking. Close is called even after a failed Write or an
// interrupted run (Summary.Complete is false then) and must flush whatever
// was written and mark it incomplete. An error from Write stops the run.
type Sink interface {
	Open(ctx context.Context, run RunInfo) error
	Write(ctx context.Context, r Result) error
	Close(ctx context.Context, s Summary) error
}

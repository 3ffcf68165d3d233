package sinks

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/pgrow"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

func pgPtr[T any](v T) *T { return &v }

// pgResult makes the result of subject i: mostly ok with varying factors,
// every 7th not_found, every 11th an error (MFA unknown).
func pgResult(i int) pipeline.Result {
	r := pipeline.Result{
		UserID:    fmt.Sprintf("user-%05d", i),
		IDType:    "user_id",
		Outcome:   pipeline.OutcomeOK,
		Attrs:     pipeline.Attrs{{Key: "department", Value: fmt.Sprintf("dept-%d", i%5)}, {Key: "name", Value: fmt.Sprintf("Name %d", i)}},
		Attempts:  1 + i%3,
		CheckedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		Line:      int64(i + 2),
		RequestID: fmt.Sprintf("req-%d", i),
	}
	switch {
	case i%11 == 10:
		r.Outcome, r.Error, r.APICode = pipeline.OutcomeError, "no answer after 5 retries: HTTP 503", "503"
	case i%7 == 6:
		r.Outcome, r.Error, r.APICode = pipeline.OutcomeNotFound, "user not found", "2004"
	default:
		r.TOTP, r.Face, r.SMS, r.Email = pgPtr(i%2 == 0), pgPtr(i%3 == 0), pgPtr(i%5 == 0), pgPtr(false)
		if i%13 == 0 {
			r.Email = nil // not reported by the API
		}
	}
	r.Classify(pipeline.PolicyAny)
	return r
}

func pgRun(id string, shard pipeline.Shard) pipeline.RunInfo {
	return pipeline.RunInfo{
		RunID:     id,
		StartedAt: time.Date(2025, 3, 1, 11, 59, 0, 0, time.UTC),
		Source:    "testdata/users.csv",
		Host:      "https://api.genauth.ai",
		Hostname:  "test-host",
		Version:   "v0.0.0-test",
		Policy:    pipeline.PolicyAny,
		GroupBy:   "department",
		Shard:     shard,
		AttrNames: []string{"department", "name"},
		Config: map[string]string{
			"AUDIT_RATE":                "20",
			"AUDIT_OUTPUT":              "postgres://audit:hunter2@db:5432/audit,out/a.xlsx",
			"GENAUTH_ACCESS_KEY_SECRET": "must-not-be-stored",
			"SOME_TOKEN":                "must-not-be-stored",
		},
	}
}

func newPGSink(t testing.TB, db *pgtest.DB, batch int) *Postgres {
	t.Helper()
	s, err := NewPostgres(context.Background(), db.URL, PostgresSinkOptions{Schema: db.Schema, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeRun opens a sink, writes results and closes it with a summary built
// from what it wrote.
func writeRun(t testing.TB, s *Postgres, run pipeline.RunInfo, results []pipeline.Result, complete bool) pipeline.Summary {
	t.Helper()
	ctx := context.Background()
	if err := s.Open(ctx, run); err != nil {
		t.Fatal(err)
	}
	sum := pipeline.Summary{Run: run, RowsRead: int64(len(results)), Complete: complete}
	if !complete {
		sum.Incomplete = "interrupted (SIGTERM)"
	}
	for _, r := range results {
		if err := s.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
		sum.Add(&r)
	}
	sum.FinishedAt = time.Now()
	if err := s.Close(ctx, sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

type runRow struct {
	Status, Reason         string
	Unique, OK, Error      int64
	RowsRead, ShardCount   int64
	StartedAt              time.Time
	FinishedAt             *time.Time
	Config                 map[string]string
	AttrNames              []string
	Coverage, Completeness *float64 // the shown share (pipeline.Share.Value), nil when undefined
}

func readRunRow(t testing.TB, db *pgtest.DB, runID string) runRow {
	t.Helper()
	var r runRow
	err := db.Pool.QueryRow(context.Background(), `SELECT status, incomplete_reason, unique_subjects, ok, error,
		rows_read, shard_count, started_at, finished_at, config, attr_names, coverage, completeness
		FROM `+db.Quoted()+`.runs WHERE run_id = $1`, runID).Scan(
		&r.Status, &r.Reason, &r.Unique, &r.OK, &r.Error, &r.RowsRead, &r.ShardCount, &r.StartedAt,
		&r.FinishedAt, &r.Config, &r.AttrNames, &r.Coverage, &r.Completeness)
	if err != nil {
		t.Fatalf("reading runs row %s: %v", runID, err)
	}
	return r
}

// sameShare reports whether a stored share is the shown one: the
// fraction of pipeline.Share, NULL when undefined.
func sameShare(stored *float64, want pipeline.Share) bool {
	f, ok := want.Fraction()
	if stored == nil || !ok {
		return stored == nil && !ok
	}
	return *stored == f
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// readResults reads the stored results of a run by primary key order.
func readResults(t testing.TB, db *pgtest.DB, runID string) map[pipeline.Key]pipeline.Result {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT "+pgrow.Columns+
		" FROM "+db.Quoted()+".results WHERE run_id = $1", runID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[pipeline.Key]pipeline.Result{}
	for rows.Next() {
		r, err := pgrow.Scan(rows, []string{"department", "name"})
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[r.Key()]; dup {
			t.Fatalf("subject %v stored twice", r.Key())
		}
		out[r.Key()] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameResult(t testing.TB, got, want pipeline.Result) {
	t.Helper()
	got.Resumed, want.Resumed = false, false
	if !got.CheckedAt.Equal(want.CheckedAt) {
		t.Errorf("%s: checked_at %v, want %v", want.UserID, got.CheckedAt, want.CheckedAt)
	}
	got.CheckedAt, want.CheckedAt = time.Time{}, time.Time{}
	if len(want.Attrs) == 0 {
		want.Attrs = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored result differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestPGSchemaConcurrentCreation(t *testing.T) {
	db := pgtest.New(t)
	schema := db.SchemaName(t) // not created yet: both goroutines race to create it
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := NewPostgres(ctx, db.URL, PostgresSinkOptions{Schema: schema})
			if err == nil {
				err = s.Close(ctx, pipeline.Summary{})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sink %d: %v", i, err)
		}
	}
	// And once more, on an existing schema.
	s, err := NewPostgres(ctx, db.URL, PostgresSinkOptions{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx, pipeline.Summary{})
	var n, v int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*), max(version) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != len(pgMigrations) || v != pgMigrations[len(pgMigrations)-1].version {
		t.Errorf("schema_migrations: %d rows, version %d; want %d rows", n, v, len(pgMigrations))
	}
}

func TestPostgresSinkRoundTrip(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	var results []pipeline.Result
	for i := range 120 {
		results = append(results, pgResult(i))
	}
	// Awkward values: no attributes, empty strings, quotes, unicode, a NUL
	// byte (stored as U+FFFD), a zero time (NULL).
	odd := pipeline.Result{UserID: "o'brien@example.com", IDType: "email", Outcome: pipeline.OutcomeInvalid,
		Error: `bad "email"`, Line: 500}
	odd.Classify(pipeline.PolicyAny)
	odd2 := pipeline.Result{UserID: "张三", IDType: "username", Outcome: pipeline.OutcomeOK, Line: 501,
		TOTP: pgPtr(true), Attrs: pipeline.Attrs{{Key: "department", Value: "a\x00b"}, {Key: "name", Value: "=cmd|' /C calc'!A0"}},
		CheckedAt: time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.FixedZone("CST", 8*3600))}
	odd2.Classify(pipeline.PolicyStrong)
	results = append(results, odd, odd2)

	s := newPGSink(t, db, 50)
	run := pgRun("run-roundtrip", pipeline.Shard{})
	if err := s.Open(ctx, run); err != nil {
		t.Fatal(err)
	}
	if got := readRunRow(t, db, run.RunID); got.Status != "running" || got.FinishedAt != nil {
		t.Errorf("after Open: status %q finished %v, want running", got.Status, got.FinishedAt)
	}
	sum := pipeline.Summary{Run: run, RowsRead: int64(len(results) + 3), Duplicates: 3}
	for _, r := range results {
		if err := s.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
		sum.Add(&r)
	}
	sum.Complete = true
	if err := s.Close(ctx, sum); err != nil {
		t.Fatal(err)
	}

	stored := readResults(t, db, run.RunID)
	if len(stored) != len(results) {
		t.Fatalf("%d results stored, want %d", len(stored), len(results))
	}
	odd2.Attrs[0].Value = "a\uFFFDb"
	results[len(results)-1] = odd2
	for _, want := range results {
		sameResult(t, stored[want.Key()], want)
	}
	rr := readRunRow(t, db, run.RunID)
	if rr.Status != "complete" || rr.Reason != "" || rr.FinishedAt == nil {
		t.Errorf("runs: status %q reason %q finished %v, want complete", rr.Status, rr.Reason, rr.FinishedAt)
	}
	if rr.Unique != sum.Unique || rr.OK != sum.OK || rr.Error != sum.Error || rr.RowsRead != sum.RowsRead ||
		!sameShare(rr.Coverage, sum.CoverageShare()) || !sameShare(rr.Completeness, sum.CompletenessShare()) {
		t.Errorf("runs counts %+v, want those of %+v", rr, sum.Counts)
	}
	if !reflect.DeepEqual(rr.AttrNames, run.AttrNames) {
		t.Errorf("attr_names %v, want %v", rr.AttrNames, run.AttrNames)
	}
	wantConfig := map[string]string{"AUDIT_RATE": "20", "AUDIT_OUTPUT": "postgres://audit:xxxxx@db:5432/audit,out/a.xlsx"}
	if !reflect.DeepEqual(rr.Config, wantConfig) {
		t.Errorf("config %v, want %v (no secrets, no passwords)", rr.Config, wantConfig)
	}

	// A second run, interrupted.
	s = newPGSink(t, db, 50)
	run2 := pgRun("run-interrupted", pipeline.Shard{})
	writeRun(t, s, run2, results[:10], false)
	if rr := readRunRow(t, db, run2.RunID); rr.Status != "incomplete" || rr.Reason != "interrupted (SIGTERM)" || rr.Unique != 10 {
		t.Errorf("interrupted run: status %q reason %q unique %d", rr.Status, rr.Reason, rr.Unique)
	}
}

func TestPostgresSinkIdempotent(t *testing.T) {
	db := pgtest.New(t)
	run := pgRun("run-idem", pipeline.Shard{})
	var results []pipeline.Result
	for i := range 40 {
		results = append(results, pgResult(i))
	}
	writeRun(t, newPGSink(t, db, 7), run, results, true)
	writeRun(t, newPGSink(t, db, 7), run, results, true) // the same again
	stored := readResults(t, db, run.RunID)
	if len(stored) != len(results) {
		t.Fatalf("%d rows after writing twice, want %d", len(stored), len(results))
	}

	// Later attempt: every final becomes an error, every error becomes final.
	var later []pipeline.Result
	for _, r := range results {
		n := r
		n.Attempts = 9
		if r.Outcome.Final() {
			n.Outcome, n.Error = pipeline.OutcomeError, "timeout"
		} else {
			n.Outcome, n.Error, n.APICode, n.TOTP = pipeline.OutcomeOK, "", "", pgPtr(true)
		}
		n.Classify(pipeline.PolicyAny)
		later = append(later, n)
	}
	writeRun(t, newPGSink(t, db, 7), run, later, true)
	stored = readResults(t, db, run.RunID)
	for i, r := range results {
		got := stored[r.Key()]
		if r.Outcome.Final() {
			sameResult(t, got, r) // never overwritten by an error
		} else {
			sameResult(t, got, later[i]) // the error replaced
		}
	}
	if rr := readRunRow(t, db, run.RunID); rr.Error != 0 || rr.Unique != int64(len(results)) {
		t.Errorf("runs: error %d unique %d, want 0 and %d", rr.Error, rr.Unique, len(results))
	}
}

func TestPostgresSinkShards(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	const n, shards = 1000, 4
	runID := "run-sharded"
	sinks := make([]*Postgres, shards)
	parts := make([][]pipeline.Result, shards)
	for i := range shards {
		sh := pipeline.Shard{Index: i, Count: shards}
		for j := range n {
			if r := pgResult(j); sh.Owns(r.Key()) {
				parts[i] = append(parts[i], r)
			}
		}
		sinks[i] = newPGSink(t, db, 64)
		if err := sinks[i].Open(ctx, pgRun(runID, sh)); err != nil {
			t.Fatal(err)
		}
	}
	// Write concurrently, like 4 pods; close all but the last.
	var wg sync.WaitGroup
	sums := make([]pipeline.Summary, shards)
	for i := range shards {
		wg.Go(func() {
			sums[i] = pipeline.Summary{Run: pgRun(runID, pipeline.Shard{Index: i, Count: shards}), RowsRead: n, Complete: true}
			for _, r := range parts[i] {
				if err := sinks[i].Write(ctx, r); err != nil {
					t.Error(err)
					return
				}
				sums[i].Add(&r)
			}
			sums[i].OtherShard = n - int64(len(parts[i]))
			if i != 2 {
				if err := sinks[i].Close(ctx, sums[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if rr := readRunRow(t, db, runID); rr.Status != "running" || rr.Reason != "shard 2/4 running" || rr.ShardCount != 4 {
		t.Errorf("3 of 4 shards closed: status %q reason %q shards %d, want running", rr.Status, rr.Reason, rr.ShardCount)
	}
	if err := sinks[2].Close(ctx, sums[2]); err != nil {
		t.Fatal(err)
	}
	rr := readRunRow(t, db, runID)
	if rr.Status != "complete" || rr.Unique != n || rr.RowsRead != n || rr.FinishedAt == nil {
		t.Errorf("all shards closed: status %q reason %q unique %d rows_read %d", rr.Status, rr.Reason, rr.Unique, rr.RowsRead)
	}
	var total pipeline.Counts
	for _, s := range sums {
		c := s.Counts
		total.OK += c.OK
		total.Compliant += c.Compliant
	}
	if rr.OK != total.OK || !sameShare(rr.Coverage, total.CoverageShare()) {
		t.Errorf("runs ok %d coverage %v, want %d %v", rr.OK, deref(rr.Coverage), total.OK, total.CoverageShare())
	}
	var shardsStored int64
	db.Pool.QueryRow(ctx, "SELECT count(DISTINCT shard) FROM "+db.Quoted()+".results WHERE run_id = $1", runID).Scan(&shardsStored)
	if shardsStored != shards {
		t.Errorf("results from %d shards, want %d", shardsStored, shards)
	}

	// Shard 1 is re-run and interrupted: the run is incomplete, saying which shard.
	s := newPGSink(t, db, 64)
	writeRun(t, s, pgRun(runID, pipeline.Shard{Index: 1, Count: shards}), parts[1][:5], false)
	if rr := readRunRow(t, db, runID); rr.Status != "incomplete" || rr.Reason != "shard 1/4 incomplete: interrupted (SIGTERM)" || rr.Unique != n {
		t.Errorf("after an interrupted shard: status %q reason %q unique %d", rr.Status, rr.Reason, rr.Unique)
	}
}

func TestPostgresPrior(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	run := pgRun("run-prior", pipeline.Shard{})
	var results []pipeline.Result
	for i := range 300 {
		results = append(results, pgResult(i))
	}
	writeRun(t, newPGSink(t, db, 100), run, results, false)

	s := newPGSink(t, db, 100)
	defer s.Close(ctx, pipeline.Summary{})
	prior, err := s.Prior(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	finals := 0
	for _, r := range results {
		if r.Outcome.Final() {
			finals++
		}
	}
	if got := prior.(*PostgresPrior).Len(); got != finals {
		t.Errorf("Len %d, want %d finals", got, finals)
	}
	// Concurrent lookups, as from the workers.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(results)+20; i += 8 {
				subj := pipeline.Subject{UserID: fmt.Sprintf("user-%05d", i), IDType: "user_id",
					Attrs: pipeline.Attrs{{Key: "name"}, {Key: "department"}}}
				got, found, err := prior.Lookup(ctx, subj)
				if err != nil {
					t.Error(err)
					return
				}
				if i >= len(results) || !results[i].Outcome.Final() {
					if found {
						t.Errorf("%s: found %v, want not found (error or never answered)", subj.UserID, got.Outcome)
					}
					continue
				}
				if !found || !got.Resumed {
					t.Errorf("%s: found %v resumed %v, want a resumed result", subj.UserID, found, got.Resumed)
					continue
				}
				if got.Attrs[0].Key != "name" {
					t.Errorf("%s: attrs %v, want the subject's order (name first)", subj.UserID, got.Attrs)
				}
				want := results[i]
				want.Attrs = pipeline.Attrs{want.Attrs[1], want.Attrs[0]}
				sameResult(t, got, want)
			}
		})
	}
	wg.Wait()

	// A run never stored: nothing found.
	empty, err := s.Prior(ctx, "no-such-run")
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := empty.Lookup(ctx, pipeline.Subject{UserID: "user-00000", IDType: "user_id"}); found || err != nil {
		t.Errorf("unknown run: found %v err %v", found, err)
	}
}

// TestPostgresPriorEmailCase: a resumed run finds a stored e-mail subject
// whatever the case it is now written in, and only e-mails fold.
func TestPostgresPriorEmailCase(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	run := pgRun("run-prior-email", pipeline.Shard{})
	a, b := pgResult(0), pgResult(1)
	a.IDType, a.UserID = "email", "Ann.Lee@Corp.Example"
	b.IDType, b.UserID = "username", "Bob"
	writeRun(t, newPGSink(t, db, 10), run, []pipeline.Result{a, b}, false)

	s := newPGSink(t, db, 10)
	defer s.Close(ctx, pipeline.Summary{})
	prior, err := s.Prior(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		idType, id string
		found      bool
	}{
		{"email", "Ann.Lee@Corp.Example", true},
		{"email", "ann.lee@corp.example", true},
		{"email", "ANN.LEE@CORP.EXAMPLE", true},
		{"username", "Bob", true},
		{"username", "bob", false},
		{"user_id", "ann.lee@corp.example", false},
	} {
		got, found, err := prior.Lookup(ctx, pipeline.Subject{IDType: c.idType, UserID: c.id})
		if err != nil || found != c.found {
			t.Errorf("%s %q: found %v err %v, want found %v", c.idType, c.id, found, err, c.found)
		}
		if found && c.idType == "email" && got.UserID != a.UserID {
			t.Errorf("%s %q: stored as %q, want %q (as first written)", c.idType, c.id, got.UserID, a.UserID)
		}
	}
}

// TestPostgresSinkCrashResume: a process killed mid-run (no Close) leaves its
// committed batches; a new process for the same run resumes from them and
// every subject ends up stored exactly once.
func TestPostgresSinkCrashResume(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	run := pgRun("run-crash", pipeline.Shard{})
	const n, batch, before = 100, 10, 55
	var first []pipeline.Result
	for i := range n {
		first = append(first, pgResult(i))
	}

	s := newPGSink(t, db, batch)
	if err := s.Open(ctx, run); err != nil {
		t.Fatal(err)
	}
	for _, r := range first[:before] {
		if err := s.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// SIGKILL: the connection drops, no Close, the buffered 5 are lost.
	s.conn.Hijack().Close(ctx)
	s.pool.Close()
	if got := len(readResults(t, db, run.RunID)); got != before/batch*batch {
		t.Fatalf("%d results survived the crash, want the %d of the committed batches", got, before/batch*batch)
	}
	if rr := readRunRow(t, db, run.RunID); rr.Status != "running" {
		t.Errorf("crashed run: status %q, want running (never closed)", rr.Status)
	}

	// The resumed process: a later attempt of everything (Attempts 7).
	s = newPGSink(t, db, batch)
	prior, err := s.Prior(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	run.StartedAt = run.StartedAt.Add(time.Hour)
	if err := s.Open(ctx, run); err != nil {
		t.Fatal(err)
	}
	sum := pipeline.Summary{Run: run, RowsRead: n, Complete: true}
	asked := 0
	for _, r := range first {
		got, found, err := prior.Lookup(ctx, pipeline.Subject{UserID: r.UserID, IDType: r.IDType, Attrs: r.Attrs})
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			asked++
			got = r
			got.Attempts = 7
			if got.Outcome == pipeline.OutcomeError {
				got.Outcome, got.Error, got.APICode = pipeline.OutcomeOK, "", ""
				got.Classify(pipeline.PolicyAny)
			}
		} else {
			sum.Resumed++
		}
		if err := s.Write(ctx, got); err != nil {
			t.Fatal(err)
		}
		sum.Add(&got)
	}
	if err := s.Close(ctx, sum); err != nil {
		t.Fatal(err)
	}
	stored := readResults(t, db, run.RunID) // fails on a duplicate
	if len(stored) != n {
		t.Fatalf("%d results after resume, want %d", len(stored), n)
	}
	kept := 0
	for _, r := range first {
		got := stored[r.Key()]
		if got.Outcome == pipeline.OutcomeError {
			t.Errorf("%s: still an error after resume", r.UserID)
		}
		if got.Attempts != 7 {
			kept++
			sameResult(t, got, r)
		}
	}
	if want := n - asked; kept != want {
		t.Errorf("%d results kept from the first attempt, want %d", kept, want)
	}
	rr := readRunRow(t, db, run.RunID)
	if rr.Status != "complete" || rr.Unique != n || rr.Error != 0 || !rr.StartedAt.Equal(pgRun("", pipeline.Shard{}).StartedAt) {
		t.Errorf("resumed run: status %q unique %d error %d started %v", rr.Status, rr.Unique, rr.Error, rr.StartedAt)
	}
}

func TestPostgresSinkBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://audit:s3cr3t-pw@127.0.0.1:1/audit?connect_timeout=2",
		"postgres://audit:s3cr3t-pw@127.0.0.1:notaport/audit",
	} {
		_, err := NewPostgres(ctx, url, PostgresSinkOptions{})
		if err == nil {
			t.Fatalf("%s: no error", url)
		}
		if msg := err.Error(); !strings.Contains(msg, "AUDIT_OUTPUT") || strings.Contains(msg, "s3cr3t-pw") {
			t.Errorf("error %q: want AUDIT_OUTPUT named and no password", msg)
		}
	}
}

func TestPGRunStatus(t *testing.T) {
	done := pgPtr(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	sh := func(i, n int, status, reason string) pgShardState {
		return pgShardState{Index: i, Count: n, Status: status, Reason: reason, RowsRead: 10, FinishedAt: done}
	}
	for _, tc := range []struct {
		name         string
		shards       []pgShardState
		count        int
		status, why  string
		wantFinished bool
	}{
		{"single complete", []pgShardState{sh(0, 1, "complete", "")}, 1, "complete", "", true},
		{"single incomplete", []pgShardState{sh(0, 1, "incomplete", "interrupted")}, 1, "incomplete", "interrupted", true},
		{"single running", []pgShardState{sh(0, 1, "running", "running")}, 1, "running", "running", false},
		{"all complete", []pgShardState{sh(0, 2, "complete", ""), sh(1, 2, "complete", "")}, 2, "complete", "", true},
		{"one missing", []pgShardState{sh(0, 2, "complete", "")}, 2, "incomplete", "shard 1/2 not started", true},
		{"one failed", []pgShardState{sh(0, 2, "failed", "db down"), sh(1, 2, "incomplete", "x")}, 2, "failed", "shard 0/2 failed: db down; shard 1/2 incomplete: x", true},
		{"running wins", []pgShardState{sh(0, 2, "running", ""), sh(1, 2, "incomplete", "x")}, 2, "running", "shard 0/2 running; shard 1/2 incomplete: x", false},
		{"stale shard count ignored", []pgShardState{sh(0, 1, "complete", ""), sh(1, 4, "running", "")}, 1, "complete", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := pgRunStatus(tc.shards, tc.count)
			if st.status != tc.status || st.reason != tc.why || (st.finishedAt != nil) != tc.wantFinished {
				t.Errorf("got %q %q finished %v, want %q %q finished %v", st.status, st.reason, st.finishedAt, tc.status, tc.why, tc.wantFinished)
			}
		})
	}
}

func TestPGSafeConfig(t *testing.T) {
	got := pgSafeConfig(map[string]string{
		"GENAUTH_ACCESS_KEY_SECRET_FILE": "/var/run/secret",
		"DB_PASSWORD":                    "x",
		"access_token":                   "x",
		"AUDIT_SOURCE":                   "postgresql://u:pw@h/db?sslmode=require",
		"AUDIT_REPORT_FROM":              "host=db password=pw user=u",
		"AUDIT_RATE":                     "20",
	})
	want := map[string]string{
		"AUDIT_SOURCE":      "postgresql://u:xxxxx@h/db?sslmode=require",
		"AUDIT_REPORT_FROM": "host=db password=xxxxx user=u",
		"AUDIT_RATE":        "20",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// BenchmarkPostgresSink measures the COPY path (COPY into the load table,
// INSERT ... ON CONFLICT into results, one transaction per batch of 5000).
func BenchmarkPostgresSink(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	s := newPGSink(b, db, DefaultPGBatchSize)
	run := pgRun(fmt.Sprintf("bench-copy-%d", b.N), pipeline.Shard{})
	if err := s.Open(ctx, run); err != nil {
		b.Fatal(err)
	}
	results := make([]pipeline.Result, 1000)
	for i := range results {
		results[i] = pgResult(i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		r := results[i%len(results)]
		r.UserID = fmt.Sprintf("user-%09d", i)
		if err := s.Write(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.flush(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "rows/s")
	s.Close(ctx, pipeline.Summary{Run: run, Complete: true})
}

// BenchmarkRowByRowInsert is the baseline: one INSERT ... ON CONFLICT per
// result, each its own transaction.
func BenchmarkRowByRowInsert(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	s := newPGSink(b, db, DefaultPGBatchSize)
	defer s.Close(ctx, pipeline.Summary{})
	run := pgRun(fmt.Sprintf("bench-row-%d", b.N), pipeline.Shard{})
	if err := s.Open(ctx, run); err != nil {
		b.Fatal(err)
	}
	cols := strings.Join(pgResultColumns, ", ")
	params := make([]string, len(pgResultColumns))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	sql := "INSERT INTO " + db.Quoted() + ".results AS r (" + cols + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (run_id, id_type, user_id) DO UPDATE SET outcome = EXCLUDED.outcome WHERE r.outcome = 'error'"
	results := make([]pipeline.Result, 1000)
	for i := range results {
		results[i] = pgResult(i)
	}
	s.batch = make([]pipeline.Result, 1)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		r := results[i%len(results)]
		r.UserID = fmt.Sprintf("user-%09d", i)
		s.batch[0] = r
		src := &pgBatchRows{s: s, i: -1}
		src.Next()
		vals, _ := src.Values()
		if _, err := s.pool.Exec(ctx, sql, vals...); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "rows/s")
	s.batch = nil
}

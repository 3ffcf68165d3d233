package sources_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/pgtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sinks"
	"github.com/mfa-audit/mfa-audit/sources"
)

func storedResult(i int) pipeline.Result {
	b := func(v bool) *bool { return &v }
	r := pipeline.Result{
		UserID:    fmt.Sprintf("u%04d", i),
		IDType:    "user_id",
		Outcome:   pipeline.OutcomeOK,
		TOTP:      b(i%2 == 0),
		Face:      b(false),
		SMS:       b(i%3 == 0),
		Email:     nil,
		Attrs:     pipeline.Attrs{{Key: "department", Value: fmt.Sprintf("d%d", i%4)}, {Key: "name", Value: fmt.Sprintf("N %d", i)}},
		Attempts:  1,
		CheckedAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Line:      int64(i + 2),
	}
	if i%9 == 4 {
		r.Outcome, r.Error, r.APICode, r.RequestID = pipeline.OutcomeNotFound, "no such user", "2004", "rq"
	}
	if i == 7 {
		r.Attrs = nil // a row without attributes
	}
	r.Classify(pipeline.PolicyAny)
	return r
}

func storeRun(t *testing.T, db *pgtest.DB, runID string, shards, n int, closeShard func(i int) bool) []pipeline.Result {
	t.Helper()
	ctx := context.Background()
	var all []pipeline.Result
	for i := range n {
		all = append(all, storedResult(i))
	}
	for i := range shards {
		sh := pipeline.Shard{Index: i, Count: shards}
		run := pipeline.RunInfo{
			RunID: runID, StartedAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Source: "users.csv",
			Host: "https://api.genauth.ai", Hostname: fmt.Sprintf("pod-%d", i), Version: "v1.2.3",
			Policy: pipeline.PolicyAny, GroupBy: "department", Shard: sh,
			AttrNames: []string{"department", "name"}, Config: map[string]string{"AUDIT_RATE": "5"},
		}
		s, err := sinks.NewPostgres(ctx, db.URL, sinks.PostgresSinkOptions{Schema: db.Schema, BatchSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(ctx, run); err != nil {
			t.Fatal(err)
		}
		sum := pipeline.Summary{Run: run, RowsRead: int64(n), Complete: true}
		for _, r := range all {
			if sh.Owns(r.Key()) {
				if err := s.Write(ctx, r); err != nil {
					t.Fatal(err)
				}
				sum.Add(&r)
			}
		}
		if closeShard != nil && !closeShard(i) {
			t.Cleanup(func() { s.Close(ctx, sum) })
			continue
		}
		if err := s.Close(ctx, sum); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func TestResultsPostgresMergesShardsInOrder(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	want := storeRun(t, db, "run-report", 4, 200, nil)

	rs, err := sources.OpenResultsPostgres(ctx, db.URL, db.Schema, "run-report")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	run := rs.Run()
	if run.RunID != "run-report" || run.Source != "users.csv" || run.Policy != pipeline.PolicyAny || run.GroupBy != "department" ||
		run.Version != "v1.2.3" || !run.StartedAt.Equal(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Run() = %+v", run)
	}
	if !reflect.DeepEqual(run.AttrNames, []string{"department", "name"}) || !reflect.DeepEqual(run.Config, map[string]string{"AUDIT_RATE": "5"}) {
		t.Errorf("AttrNames %v Config %v", run.AttrNames, run.Config)
	}
	if complete, why := rs.Stored(); !complete || why != "" {
		t.Errorf("Stored() = %v %q, want complete", complete, why)
	}
	if sum := rs.Summary(); sum.Unique != 200 || sum.RowsRead != 200 || !sum.Complete || sum.FinishedAt.IsZero() {
		t.Errorf("Summary() = %+v", sum)
	}
	var got []pipeline.Result
	for {
		r, err := rs.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	if !slices.IsSortedFunc(got, func(a, b pipeline.Result) int { return int(a.Line - b.Line) }) {
		t.Error("results not in line order")
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.CheckedAt.Equal(w.CheckedAt) {
			t.Errorf("%s: checked_at %v, want %v", w.UserID, g.CheckedAt, w.CheckedAt)
		}
		g.CheckedAt, w.CheckedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("result %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if _, err := rs.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end: %v", err)
	}
}

func TestResultsPostgresIncompleteAndErrors(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	storeRun(t, db, "run-partial", 4, 40, func(i int) bool { return i != 2 })
	rs, err := sources.OpenResultsPostgres(ctx, db.URL, db.Schema, "run-partial")
	if err != nil {
		t.Fatal(err)
	}
	if complete, why := rs.Stored(); complete || why != "shard 2/4 running" {
		t.Errorf("Stored() = %v %q, want incomplete: shard 2/4 running", complete, why)
	}
	rs.Next(ctx)
	if err := rs.Close(); err != nil { // closed before the end
		t.Errorf("Close: %v", err)
	}

	_, err = sources.OpenResultsPostgres(ctx, db.URL, db.Schema, "no-such-run")
	if err == nil || !strings.Contains(err.Error(), "AUDIT_RUN_ID") || !strings.Contains(err.Error(), "no-such-run") {
		t.Errorf("unknown run: %v, want an error naming AUDIT_RUN_ID", err)
	}
	_, err = sources.OpenResultsPostgres(ctx, db.URL, db.Schema+"_none", "run-partial")
	if err == nil || !strings.Contains(err.Error(), "AUDIT_REPORT_FROM") {
		t.Errorf("missing schema: %v, want an error naming AUDIT_REPORT_FROM", err)
	}
	_, err = sources.OpenResultsPostgres(ctx, "postgres://u:s3cr3t-pw@127.0.0.1:1/x?connect_timeout=2", "", "r")
	if err == nil || !strings.Contains(err.Error(), "AUDIT_REPORT_FROM") || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("bad server: %v, want AUDIT_REPORT_FROM and no password", err)
	}
}

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres: rows/s of `audit report` into a Postgres output (COPY in
// batches) against one INSERT per row, and peak RSS with a Postgres source.
func (b *bench) postgres(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, b.pgURL)
	cancel()
	if err != nil {
		b.progress("postgres: unreachable, skipped: %v", err)
		b.tab.add(row{Scenario: "postgres", Params: redact(b.pgURL), Measured: "skipped: database unreachable: " + oneLine(err.Error()), Result: resSkip})
		return nil
	}
	defer conn.Close(context.Background())

	var rnd [4]byte
	rand.Read(rnd[:])
	schema := "bench_" + hex.EncodeToString(rnd[:])
	qs := pgx.Identifier{schema}.Sanitize()
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := conn.Exec(dctx, "DROP SCHEMA IF EXISTS "+qs+" CASCADE"); err != nil {
			b.progress("postgres: DROP SCHEMA %s: %v", schema, err)
			b.note("postgres: could not drop schema %s: %v", schema, err)
		}
	}()

	if err := b.copyVsInsert(ctx, conn, schema); err != nil {
		return err
	}
	return b.pgSource(ctx)
}

// copyVsInsert writes the results file into Postgres with `audit report`,
// then the first rows of it one INSERT at a time into a copy of the
// results table, and compares the rates.
func (b *bench) copyVsInsert(ctx context.Context, conn *pgx.Conn, schema string) error {
	if b.results == "" {
		n := b.pick(100_000, 20_000)
		csv, err := b.csv(n)
		if err != nil {
			return err
		}
		err = b.withFake(ctx, "", func(fake *fakeAPI) error {
			b.progress("postgres: writing a results file of %d subjects", n)
			out := filepath.Join(b.dir, "pg-input")
			if _, err := b.runAudit(ctx, fake, time.Duration(n/500)*time.Second,
				"AUDIT_SOURCE="+csv, "AUDIT_OUTPUT="+out+".jsonl", "AUDIT_CONCURRENCY=32"); err != nil {
				return err
			}
			b.keepResults(out+".jsonl", n)
			return nil
		})
		if err != nil {
			return err
		}
	}

	b.progress("postgres: audit report of %d results into schema %s", b.resultsN, schema)
	env := childEnv(
		"AUDIT_REPORT_FROM="+b.results,
		"AUDIT_OUTPUT="+b.pgURL,
		"AUDIT_PG_SCHEMA="+schema,
		"AUDIT_LOG_FORMAT=json",
		"AUDIT_PROGRESS=never",
	)
	p, err := runChild(ctx, b.bin, []string{"report"}, env, 10*time.Minute)
	if err != nil {
		if p != nil {
			return fmt.Errorf("%w (%s)", err, p.describe())
		}
		return err
	}
	m, ok := p.logLine("report written")
	if !ok || p.ExitCode != 0 {
		return fmt.Errorf("audit report: %s", p.describe())
	}
	took, err := time.ParseDuration(fmt.Sprint(m["took"]))
	if err != nil || took <= 0 {
		return fmt.Errorf("audit report: took %v", m["took"])
	}
	results := int64(num(m["results"]))
	qs := pgx.Identifier{schema}.Sanitize()
	var stored int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+qs+".results").Scan(&stored); err != nil {
		return fmt.Errorf("counting the results written: %w", err)
	}
	if stored != results {
		return fmt.Errorf("audit report logged %d results, the table holds %d", results, stored)
	}
	copyRate := float64(stored) / took.Seconds()
	b.progress("postgres: audit report %.0f rows/s (%d rows in %s)", copyRate, stored, took)

	var syncCommit string
	_ = conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&syncCommit)

	n := b.pick(20_000, 5_000)
	b.progress("postgres: %d single-row INSERTs", n)
	ins, err := insertRowByRow(ctx, conn, schema, b.results, n)
	if err != nil {
		return err
	}
	insRate := float64(n) / ins.Seconds()
	b.progress("postgres: row-by-row %.0f rows/s", insRate)

	b.tab.add(row{
		Scenario: "postgres: audit report",
		Params:   fmt.Sprintf("results JSONL → postgres:// output (COPY batches), %s rows", thousands(int(stored))),
		Measured: fmt.Sprintf("%s rows/s (%.1f s; process %.1f s, peak RSS %.0f MiB)", thousands(int(copyRate)), took.Seconds(), p.Wall.Seconds(), p.MaxRSSMiB()),
		Result:   resInfo,
	})
	b.tab.add(row{
		Scenario: "postgres: row-by-row",
		Params:   fmt.Sprintf("one INSERT per row (autocommit, pgx, synchronous_commit=%s) into a copy of the results table, %s rows", syncCommit, thousands(n)),
		Measured: fmt.Sprintf("%s rows/s (%.1f s)", thousands(int(insRate)), ins.Seconds()),
		Result:   resInfo,
	})
	ratio := copyRate / insRate
	b.tab.add(row{
		Scenario: "postgres: ratio",
		Params:   "audit report rows/s ÷ row-by-row rows/s",
		Measured: fmt.Sprintf("%.1f", ratio),
		Target:   "≥ 10",
		Result:   passIf(ratio >= 10),
	})
	return nil
}

// resultRecord is one line of a results JSONL file.
type resultRecord struct {
	UserID    string          `json:"user_id"`
	IDType    string          `json:"id_type"`
	Outcome   string          `json:"outcome"`
	TOTP      *bool           `json:"totp"`
	Face      *bool           `json:"face"`
	SMS       *bool           `json:"sms"`
	Email     *bool           `json:"email"`
	Factors   *int            `json:"factors"`
	MFA       string          `json:"mfa"`
	Compliant *bool           `json:"compliant"`
	Attrs     json.RawMessage `json:"attrs"`
	Error     *string         `json:"error"`
	APICode   json.RawMessage `json:"api_code"`
	RequestID *string         `json:"request_id"`
	Attempts  int             `json:"attempts"`
	CheckedAt *string         `json:"checked_at"`
}

// insertRowByRow inserts the first n results of path one INSERT statement
// (one transaction) per row into schema.rowbyrow, a copy of
// schema.results, and returns the time the inserts took.
func insertRowByRow(ctx context.Context, conn *pgx.Conn, schema, path string, n int) (time.Duration, error) {
	qs := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE TABLE "+qs+".rowbyrow (LIKE "+qs+".results INCLUDING ALL)"); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	type args [19]any
	rows := make([]args, 0, n)
	for sc.Scan() && len(rows) < n {
		var r resultRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.UserID == "" {
			continue
		}
		var checked any
		if r.CheckedAt != nil {
			t, err := time.Parse(time.RFC3339Nano, *r.CheckedAt)
			if err == nil {
				checked = t
			}
		}
		var apiCode *string
		if len(r.APICode) > 0 && string(r.APICode) != "null" {
			s := string(r.APICode)
			if u, err := strconv.Unquote(s); err == nil {
				s = u
			}
			apiCode = &s
		}
		attrs := string(r.Attrs)
		if attrs == "" || attrs == "null" {
			attrs = "{}"
		}
		rows = append(rows, args{"bench-rowbyrow", r.UserID, r.IDType, r.Outcome, r.TOTP, r.Face, r.SMS, r.Email,
			r.Factors, r.MFA, r.Compliant, attrs, r.Error, apiCode, r.RequestID, r.Attempts, checked, int64(len(rows) + 1), 0})
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if len(rows) < n {
		return 0, fmt.Errorf("%s holds %d results, want %d", path, len(rows), n)
	}
	sql := "INSERT INTO " + qs + ".rowbyrow (run_id, user_id, id_type, outcome, totp, face, sms, email, factors, mfa, compliant, attrs, " +
		"error, api_code, request_id, attempts, checked_at, line, shard) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, " +
		"$13, $14, $15, $16, $17, $18, $19)"
	start := time.Now()
	for i := range rows {
		if _, err := conn.Exec(ctx, sql, rows[i][:]...); err != nil {
			return 0, fmt.Errorf("INSERT row %d: %w", i+1, err)
		}
	}
	return time.Since(start), nil
}

// pgSource: peak RSS of `audit run` with a Postgres source at two sizes.
func (b *bench) pgSource(ctx context.Context) error {
	const c = 32
	small, large := b.pick(100_000, 20_000), b.pick(1_000_000, 100_000)
	var rss []float64
	for _, n := range []int{small, large} {
		q := fmt.Sprintf("SELECT 'u'||g AS user_id, 'D'||(g%%7) AS department FROM generate_series(1,%d) g", n)
		err := b.withFake(ctx, "", func(fake *fakeAPI) error {
			b.progress("postgres: source of %d rows, C=%d, JSONL out", n, c)
			out := filepath.Join(b.dir, fmt.Sprintf("pgsource-%d", n))
			r, err := b.runAudit(ctx, fake, time.Duration(n/500)*time.Second,
				"AUDIT_SOURCE="+b.pgURL, "AUDIT_SOURCE_QUERY="+q,
				"AUDIT_OUTPUT="+out+".jsonl", "AUDIT_CONCURRENCY="+strconv.Itoa(c))
			if err != nil {
				return err
			}
			removeOutputs(out)
			b.progress("postgres: source N=%d peak RSS %.1f MiB, %.0f users/s", n, r.proc.MaxRSSMiB(), r.usersPerSec)
			rss = append(rss, r.proc.MaxRSSMiB())
			b.tab.add(row{
				Scenario: "postgres: source memory",
				Params:   fmt.Sprintf("AUDIT_SOURCE=postgres, generate_series of %s rows, C=%d, zero latency, → JSONL", thousands(n), c),
				Measured: fmt.Sprintf("peak RSS %.1f MiB; process %.1f s (%s users/s)", r.proc.MaxRSSMiB(), r.proc.Wall.Seconds(), thousands(int(r.usersPerSec))),
				Result:   resInfo,
			})
			return nil
		})
		if err != nil {
			return fmt.Errorf("the Postgres source, N=%d: %w", n, err)
		}
	}
	b.tab.add(row{
		Scenario: "postgres: source growth",
		Params:   fmt.Sprintf("peak RSS N=%s ÷ N=%s (the de-dup table, 12 B a subject, and GC headroom grow with N whatever the source)", thousands(large), thousands(small)),
		Measured: fmt.Sprintf("%.2f (%.1f ÷ %.1f MiB)", rss[1]/rss[0], rss[1], rss[0]),
		Result:   resInfo,
	})
	// The source itself streams: a Postgres source costs what a CSV source
	// of the same subjects costs, at the large size.
	csvPath, err := b.csv(large)
	if err != nil {
		return err
	}
	var csvRSS float64
	err = b.withFake(ctx, "", func(fake *fakeAPI) error {
		b.progress("postgres: the same %d subjects from CSV, for comparison", large)
		out := filepath.Join(b.dir, fmt.Sprintf("csvsource-%d", large))
		r, err := b.runAudit(ctx, fake, time.Duration(large/500)*time.Second,
			"AUDIT_SOURCE="+csvPath, "AUDIT_OUTPUT="+out+".jsonl", "AUDIT_CONCURRENCY="+strconv.Itoa(c))
		if err != nil {
			return err
		}
		removeOutputs(out)
		csvRSS = r.proc.MaxRSSMiB()
		return nil
	})
	if err != nil {
		return fmt.Errorf("CSV source N=%d: %w", large, err)
	}
	ratio := rss[1] / csvRSS
	b.tab.add(row{
		Scenario: "postgres: source streams",
		Params:   fmt.Sprintf("peak RSS, Postgres source ÷ CSV source, N=%s, same outputs", thousands(large)),
		Measured: fmt.Sprintf("%.2f (%.1f ÷ %.1f MiB)", ratio, rss[1], csvRSS),
		Target:   "≤ 1.15",
		Result:   passIf(ratio <= 1.15),
	})
	return nil
}

// redact drops the password of a URL for display.
func redact(u string) string {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return "postgres"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

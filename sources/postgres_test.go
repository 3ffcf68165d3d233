package sources

import (
	"context"
	"errors"
	"io"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/pgtest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

func openPG(t *testing.T, url, query string, opt PostgresOptions) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := OpenPostgres(ctx, url, query, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func readAllPG(t *testing.T, p *Postgres) []pipeline.Subject {
	t.Helper()
	var out []pipeline.Subject
	for {
		s, err := p.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
}

// TestPostgresStreamsMillionRows: a million rows go through with a small,
// flat heap (rows.Next streaming, nothing collected).
func TestPostgresStreamsMillionRows(t *testing.T) {
	db := pgtest.New(t)
	n := int64(1_000_000)
	if testing.Short() || raceEnabled() {
		n = 250_000 // the race detector makes this 10 times slower and adds nothing here
	}
	p := openPG(t, db.URL, `SELECT 'user-' || g AS user_id, 'dept-' || (g % 97) AS department, g % 2 = 0 AS active
		FROM generate_series(1, `+itoa(n)+`) AS g`, PostgresOptions{})
	if got := p.AttrNames(); !reflect.DeepEqual(got, []string{"department", "active"}) {
		t.Errorf("AttrNames %v", got)
	}
	if p.Total() != -1 {
		t.Errorf("Total %d, want -1", p.Total())
	}
	var count int64
	var maxHeap uint64
	var ms runtime.MemStats
	ctx := context.Background()
	for {
		s, err := p.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if s.Line != count || s.Invalid != "" || s.IDType != "user_id" {
			t.Fatalf("row %d: %+v", count, s)
		}
		if count%100_000 == 0 {
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
			if want := "user-" + itoa(count); s.UserID != want || s.Attrs[1].Value != "t" {
				t.Fatalf("row %d: %+v", count, s)
			}
		}
	}
	if count != n {
		t.Errorf("%d rows, want %d", count, n)
	}
	t.Logf("%d rows, heap in use at most %.1f MB", count, float64(maxHeap)/(1<<20))
	if maxHeap > 32<<20 {
		t.Errorf("heap in use reached %.1f MB while streaming, want under 32 MB", float64(maxHeap)/(1<<20))
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPostgresColumns(t *testing.T) {
	db := pgtest.New(t)
	type subj struct{ id, typ, invalid string }
	for _, tc := range []struct {
		name      string
		query     string
		opt       PostgresOptions
		wantAttrs []string
		want      []subj
		wantVals  [][]string
	}{
		{
			name:      "user_id over id, id_type found",
			query:     `SELECT 7 AS id, 'a@b.c' AS user_id, 'email' AS id_type, 'Sales' AS department`,
			wantAttrs: []string{"id", "department"},
			want:      []subj{{"a@b.c", "email", ""}},
			wantVals:  [][]string{{"7", "Sales"}},
		},
		{
			name:      "userId folded to userid, userIdType",
			query:     `SELECT 'u1' AS userId, 'phone' AS userIdType, NULL::text AS manager`,
			wantAttrs: []string{"manager"},
			want:      []subj{{"u1", "phone", ""}},
			wantVals:  [][]string{{""}},
		},
		{
			name:      "id",
			query:     `SELECT 'x' AS name, ' u2 ' AS id`,
			wantAttrs: []string{"name"},
			want:      []subj{{"u2", "user_id", ""}},
		},
		{
			name:      "first column, not the id-type column",
			query:     `SELECT 'username' AS id_type, 'bob' AS login, 3.50::numeric AS score, DATE '2024-05-01' AS since`,
			wantAttrs: []string{"score", "since"},
			want:      []subj{{"bob", "username", ""}},
			wantVals:  [][]string{{"3.50", "2024-05-01"}},
		},
		{
			name:      "explicit columns and default id type",
			query:     `SELECT 'u3' AS user_id, 'x@y.z' AS mail, 'kind' AS k, '' AS t`,
			opt:       PostgresOptions{IDColumn: "MAIL", IDTypeColumn: "t", DefaultIDType: "email"},
			wantAttrs: []string{"user_id", "k"},
			want:      []subj{{"x@y.z", "email", ""}},
		},
		{
			name:      "repeated column names",
			query:     `SELECT 'u4' AS user_id, 1 AS n, 2 AS n`,
			wantAttrs: []string{"n", "n_2"},
			want:      []subj{{"u4", "user_id", ""}},
			wantVals:  [][]string{{"1", "2"}},
		},
		{
			name: "invalid rows name their row",
			query: `SELECT * FROM (VALUES (1, 'ok1', NULL), (2, '', 'email'), (3, NULL, NULL), (4, 'u5', 'fax')) AS v(n, user_id, id_type)
				ORDER BY n`,
			wantAttrs: []string{"n"},
			want: []subj{
				{"ok1", "user_id", ""},
				{"", "email", "row 2: empty user id"},
				{"", "user_id", "row 3: empty user id"},
				{"u5", "fax", `row 4: unknown id type "fax"`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPG(t, db.URL, tc.query, tc.opt)
			if got := p.AttrNames(); !reflect.DeepEqual(got, tc.wantAttrs) {
				t.Errorf("AttrNames %v, want %v", got, tc.wantAttrs)
			}
			got := readAllPG(t, p)
			if len(got) != len(tc.want) {
				t.Fatalf("%d subjects, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.UserID != w.id || g.IDType != w.typ || !strings.HasPrefix(g.Invalid, w.invalid) || (w.invalid == "") != (g.Invalid == "") {
					t.Errorf("subject %d: %q %q invalid %q, want %q %q invalid %q...", i, g.UserID, g.IDType, g.Invalid, w.id, w.typ, w.invalid)
				}
				if g.Line != int64(i+1) {
					t.Errorf("subject %d: line %d", i, g.Line)
				}
				if len(g.Attrs) != len(tc.wantAttrs) {
					t.Errorf("subject %d: attrs %v", i, g.Attrs)
					continue
				}
				for j, a := range g.Attrs {
					if a.Key != tc.wantAttrs[j] {
						t.Errorf("subject %d: attr %d is %q, want %q", i, j, a.Key, tc.wantAttrs[j])
					}
					if tc.wantVals != nil && a.Value != tc.wantVals[i][j] {
						t.Errorf("subject %d: %s = %q, want %q", i, a.Key, a.Value, tc.wantVals[i][j])
					}
				}
			}
		})
	}
}

func TestPostgresReadOnly(t *testing.T) {
	db := pgtest.New(t)
	db.Exec(t, "CREATE TABLE "+db.Quoted()+".users (user_id text)")
	db.Exec(t, "CREATE SEQUENCE "+db.Quoted()+".s")
	ctx := context.Background()
	for _, q := range []string{
		"INSERT INTO users VALUES ('intruder') RETURNING user_id",
		"WITH d AS (DELETE FROM users RETURNING user_id) SELECT * FROM d",
		"SELECT nextval('s')::text AS user_id",
	} {
		_, err := OpenPostgres(ctx, db.SearchPathURL(), q, PostgresOptions{})
		if err == nil || !strings.Contains(err.Error(), "AUDIT_SOURCE_QUERY") || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s: error %v, want AUDIT_SOURCE_QUERY ... read-only transaction", q, err)
		}
	}
	var n int
	db.Pool.QueryRow(ctx, "SELECT count(*) FROM "+db.Quoted()+".users").Scan(&n)
	if n != 0 {
		t.Errorf("the source query wrote %d rows", n)
	}
}

func TestPostgresOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const pw = "s3cr3t-pw"
	check := func(t *testing.T, url, query string, opt PostgresOptions, want ...string) {
		t.Helper()
		p, err := OpenPostgres(ctx, url, query, opt)
		if err == nil {
			p.Close()
			t.Fatalf("no error, want one mentioning %q", want)
		}
		msg := err.Error()
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q does not mention %q", msg, w)
			}
		}
		if strings.Contains(msg, pw) {
			t.Errorf("error %q shows the password", msg)
		}
	}
	// Without a database.
	t.Run("empty query", func(t *testing.T) {
		check(t, "postgres://u:"+pw+"@127.0.0.1:1/db", "  ", PostgresOptions{}, "AUDIT_SOURCE_QUERY", "empty")
	})
	t.Run("connection refused", func(t *testing.T) {
		check(t, "postgres://u:"+pw+"@127.0.0.1:1/db?connect_timeout=2", "SELECT 1", PostgresOptions{}, "AUDIT_SOURCE", "postgres://u:xxxxx@127.0.0.1:1/db")
	})
	t.Run("bad URL", func(t *testing.T) {
		check(t, "postgres://u:"+pw+"@127.0.0.1:port/db", "SELECT 1", PostgresOptions{}, "AUDIT_SOURCE")
	})

	db := pgtest.New(t)
	withPW := strings.Replace(db.URL, "://", "://postgres:"+pw+"@", 1) // trust auth ignores it
	if strings.Contains(db.URL, "@") {
		withPW = db.URL
	}
	for _, tc := range []struct {
		name, query string
		opt         PostgresOptions
		want        []string
	}{
		{"syntax", "SELEC user_id", PostgresOptions{}, []string{"AUDIT_SOURCE_QUERY", "syntax error"}},
		{"unknown table", "SELECT user_id FROM no_such_table", PostgresOptions{}, []string{"AUDIT_SOURCE_QUERY", "no_such_table"}},
		{"runtime error in the first row", "SELECT (1/0)::text AS user_id", PostgresOptions{}, []string{"AUDIT_SOURCE_QUERY", "division by zero"}},
		{"missing id column", "SELECT 1 AS a", PostgresOptions{IDColumn: "uid"}, []string{"AUDIT_ID_COLUMN", `"uid"`, "columns: a"}},
		{"missing id-type column", "SELECT 1 AS a", PostgresOptions{IDTypeColumn: "kind"}, []string{"AUDIT_ID_TYPE_COLUMN", `"kind"`}},
		{"two statements", "SELECT 1; SELECT 2", PostgresOptions{}, []string{"AUDIT_SOURCE_QUERY"}},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, withPW, tc.query, tc.opt, tc.want...) })
	}

	t.Run("open honours its context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := OpenPostgres(ctx, db.URL, "SELECT pg_sleep(30)::text AS user_id", PostgresOptions{})
		if err == nil || time.Since(start) > 10*time.Second {
			t.Errorf("err %v after %v, want an error soon after the deadline", err, time.Since(start))
		}
	})
}

// TestPostgresErrorWhileStreaming: a query failing after its first rows is a
// Next error naming the row, and stays one.
func TestPostgresErrorWhileStreaming(t *testing.T) {
	db := pgtest.New(t)
	p := openPG(t, db.URL, `SELECT (10000 / (20000 - g))::text AS user_id FROM generate_series(1, 30000) g`, PostgresOptions{})
	var n int
	var err error
	for err == nil {
		_, err = p.Next(context.Background())
		n++
	}
	if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "division by zero") || !strings.Contains(err.Error(), "AUDIT_SOURCE_QUERY") {
		t.Fatalf("after %d rows: %v, want a division by zero", n, err)
	}
	if _, err2 := p.Next(context.Background()); err2 == nil || errors.Is(err2, io.EOF) {
		t.Errorf("Next after the error: %v", err2)
	}
}

// TestPostgresCloseEarly: closing a source in the middle of a long result
// does not read the rest.
func TestPostgresCloseEarly(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	p, err := OpenPostgres(ctx, db.URL, "SELECT generate_series(1, 100000000)::text AS user_id", PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := p.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	defer func() { t.Logf("Close took %v", time.Since(start)) }()
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Close is reading the whole result")
	}
}

// TestPostgresSimpleProtocol: behind a transaction-pooling PgBouncer the URL
// says default_query_exec_mode=simple_protocol; the source works the same.
func TestPostgresSimpleProtocol(t *testing.T) {
	db := pgtest.New(t)
	url := db.URL + "?default_query_exec_mode=simple_protocol"
	if strings.Contains(db.URL, "?") {
		url = db.URL + "&default_query_exec_mode=simple_protocol"
	}
	p := openPG(t, url, `SELECT 'u1' AS user_id, 42 AS n, NULL AS x UNION ALL SELECT 'u2', 7, 'y'`, PostgresOptions{})
	got := readAllPG(t, p)
	want := []pipeline.Subject{
		{UserID: "u1", IDType: "user_id", Line: 1, Attrs: pipeline.Attrs{{Key: "n", Value: "42"}, {Key: "x", Value: ""}}},
		{UserID: "u2", IDType: "user_id", Line: 2, Attrs: pipeline.Attrs{{Key: "n", Value: "7"}, {Key: "x", Value: "y"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

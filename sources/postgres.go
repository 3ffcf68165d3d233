package sources

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// PostgresOptions choose the columns of a Postgres source (SPEC section 3).
type PostgresOptions struct {
	// IDColumn names the identifier column (AUDIT_ID_COLUMN). Empty: user_id,
	// else userId, else id, else the first column.
	IDColumn string
	// IDTypeColumn names the id-type column (AUDIT_ID_TYPE_COLUMN). Empty:
	// id_type, else userIdType, if present.
	IDTypeColumn string
	// DefaultIDType is the id type of rows that carry none (AUDIT_ID_TYPE);
	// empty means user_id.
	DefaultIDType string
}

// Postgres is a pipeline.Source reading subjects from the result of
// AUDIT_SOURCE_QUERY. The query runs in a read-only transaction on one
// connection and its rows are streamed: memory does not grow with the number
// of rows. Every column is requested in text form, so attributes are the
// PostgreSQL text representation of their values (NULL is "").
type Postgres struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	rows   pgx.Rows
	cancel context.CancelFunc // aborts the query (its rows live on this context)

	desc        string
	defaultType string
	idIdx       int
	typeIdx     int // -1: no id-type column
	attrIdx     []int
	attrNames   []string

	line    int64
	peeked  *pipeline.Subject // the first row, read by OpenPostgres to surface errors early
	done    bool
	lastErr error
}

var _ pipeline.Source = (*Postgres)(nil)

// OpenPostgres connects to url (AUDIT_SOURCE), starts a read-only
// transaction and runs query (AUDIT_SOURCE_QUERY). It reads the first row
// before returning, so that a bad URL, a query error, a query that writes, or
// a missing column comes back from here (a configuration error, before any
// API call), naming the variable at fault. Errors never contain the password
// of url.
func OpenPostgres(ctx context.Context, url, query string, opt PostgresOptions) (*Postgres, error) {
	safe := RedactURL(url)
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("AUDIT_SOURCE_QUERY is empty: a Postgres source (AUDIT_SOURCE %s) needs the SQL that lists the subjects", safe)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, pgScrub(fmt.Errorf("AUDIT_SOURCE %s: not a valid Postgres URL: %w", safe, err), url)
	}
	// The rows of the query live on qctx, which outlives ctx: it is cancelled
	// by Close, or by the context of a Next call (or of this call) while that
	// call waits on the server.
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	p := &Postgres{cancel: cancel, desc: safe, defaultType: opt.DefaultIDType, typeIdx: -1}
	if p.defaultType == "" {
		p.defaultType = "user_id"
	}
	fail := func(err error) (*Postgres, error) {
		p.Close()
		return nil, pgScrub(err, url)
	}
	p.conn, err = pgx.ConnectConfig(qctx, cfg)
	if err != nil {
		cancel()
		return nil, pgScrub(fmt.Errorf("AUDIT_SOURCE %s: connecting: %w", safe, err), url)
	}
	p.tx, err = p.conn.BeginTx(qctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(fmt.Errorf("AUDIT_SOURCE %s: starting a read-only transaction: %w", safe, err))
	}
	// Text results for every column: attributes keep PostgreSQL's own text
	// form whatever their type, and no value needs a Go decoder.
	p.rows, err = p.tx.Query(qctx, query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return fail(fmt.Errorf("AUDIT_SOURCE_QUERY: %w", err))
	}
	if len(p.rows.FieldDescriptions()) == 0 {
		// A query failing at once (a write in this read-only transaction, a
		// runtime error) has no columns; its error is the one to report.
		p.rows.Next()
		if err := p.rows.Err(); err != nil {
			return fail(fmt.Errorf("AUDIT_SOURCE_QUERY: %w", err))
		}
	}
	if err := p.chooseColumns(opt); err != nil {
		return fail(err)
	}
	first, err := p.next()
	switch {
	case errors.Is(err, pipeline.EOF):
		p.done = true
	case err != nil:
		return fail(err)
	default:
		p.peeked = &first
	}
	return p, nil
}

// chooseColumns finds the id, id-type and attribute columns by name, with
// the rules of the CSV source's header (chooseIDColumns, uniqueNames).
func (p *Postgres) chooseColumns(opt PostgresOptions) error {
	fds := p.rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	if len(names) == 0 {
		return errors.New("AUDIT_SOURCE_QUERY returns no columns: it must select at least the user id")
	}
	names = uniqueNames(names) // SELECT a.id, b.id: id, id_2
	var err error
	p.idIdx, p.typeIdx, err = chooseIDColumns(names, opt.IDColumn, opt.IDTypeColumn, "the AUDIT_SOURCE_QUERY result")
	if err != nil {
		return err
	}
	for i, n := range names {
		if i != p.idIdx && i != p.typeIdx {
			p.attrIdx = append(p.attrIdx, i)
			p.attrNames = append(p.attrNames, n)
		}
	}
	return nil
}

// Next returns the next row as a subject (Line is the 1-based row number),
// or pipeline.EOF after the last one. A row with an empty id or an unknown id
// type is returned with Invalid set ("row N: ..."); a query that fails while
// streaming is an error naming the row.
func (p *Postgres) Next(ctx context.Context) (pipeline.Subject, error) {
	if p.peeked != nil {
		s := *p.peeked
		p.peeked = nil
		return s, nil
	}
	if p.done {
		if p.lastErr != nil {
			return pipeline.Subject{}, p.lastErr
		}
		return pipeline.Subject{}, pipeline.EOF
	}
	stop := context.AfterFunc(ctx, p.cancel)
	s, err := p.next()
	stop()
	if err != nil {
		p.done = true
		if !errors.Is(err, pipeline.EOF) {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			p.lastErr = err
		}
	}
	return s, err
}

func (p *Postgres) next() (pipeline.Subject, error) {
	if !p.rows.Next() {
		if err := p.rows.Err(); err != nil {
			return pipeline.Subject{}, fmt.Errorf("AUDIT_SOURCE_QUERY: reading row %d: %w", p.line+1, err)
		}
		return pipeline.Subject{}, pipeline.EOF
	}
	p.line++
	raw := p.rows.RawValues() // text format: each value is its text form, nil for NULL
	s := pipeline.Subject{Line: p.line, UserID: string(raw[p.idIdx])}
	if p.typeIdx >= 0 {
		s.IDType = string(raw[p.typeIdx])
	}
	if len(p.attrIdx) > 0 {
		s.Attrs = make(pipeline.Attrs, len(p.attrIdx))
		for j, i := range p.attrIdx {
			s.Attrs[j] = pipeline.Attr{Key: p.attrNames[j], Value: string(raw[i])}
		}
	}
	s.Normalize(p.defaultType)
	if s.Invalid != "" {
		s.Invalid = "row " + strconv.FormatInt(p.line, 10) + ": " + s.Invalid
	}
	return s, nil
}

// AttrNames lists the attribute columns (every column but the id and
// id-type columns) in the order of the query.
func (p *Postgres) AttrNames() []string { return append([]string(nil), p.attrNames...) }

// Describe returns the source URL without its password.
func (p *Postgres) Describe() string { return p.desc }

// Total is -1: counting would run the query twice.
func (p *Postgres) Total() int64 { return -1 }

// Close ends the query and the read-only transaction and closes the
// connection. A query not read to its end is cancelled rather than drained.
func (p *Postgres) Close() error {
	if p.rows != nil && !p.done {
		// rows.Close would read every remaining row: cancel instead; the
		// connection is then closed as broken, which also ends the
		// transaction on the server.
		p.cancel()
	}
	if p.rows != nil {
		p.rows.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if p.tx != nil && !p.conn.IsClosed() {
		_ = p.tx.Rollback(ctx) // read only: nothing to keep
	}
	var err error
	if p.conn != nil {
		err = p.conn.Close(ctx)
	}
	p.cancel()
	return err
}

var (
	pgURLPasswordRE = regexp.MustCompile(`(?i)(://[^:/@?#\s]*):[^@/\s]*@`)
	pgKVPasswordRE  = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// RedactURL returns a Postgres URL (or key=value connection string) with its
// password removed, for logs, reports and errors.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
		if q := u.Query(); q.Has("password") {
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	s := pgURLPasswordRE.ReplaceAllString(raw, "$1@")
	return pgKVPasswordRE.ReplaceAllString(s, "password=xxxxx")
}

// pgScrub returns err with every occurrence of the password of rawURL
// replaced, in case a driver error quoted the connection string.
func pgScrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	var secrets []string
	if u, perr := url.Parse(rawURL); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		if pw := u.Query().Get("password"); pw != "" {
			secrets = append(secrets, pw)
		}
	}
	for _, m := range pgURLPasswordRE.FindAllStringSubmatch(rawURL, -1) {
		if i := strings.LastIndexByte(m[0], ':'); i > 0 {
			secrets = append(secrets, strings.TrimSuffix(m[0][i+1:], "@"))
		}
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= 1 && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &pgScrubbedError{msg: msg, err: err}
}

type pgScrubbedError struct {
	msg string
	err error
}

func (e *pgScrubbedError) Error() string { return e.msg }
func (e *pgScrubbedError) Unwrap() error { return e.err }

package sources

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/internal/redact"
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
	pgQuery

	desc        string
	defaultType string
	idIdx       int
	typeIdx     int // -1: no id-type column
	attrIdx     []int
	attrNames   []string
	layout      Layout

	line    int64
	peeked  *pipeline.Subject // the first row, read by OpenPostgres to surface errors early
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
	safe := redact.URL(url)
	if strings.TrimSpace(query) == "" {
		return nil, fmt.Errorf("AUDIT_SOURCE_QUERY is empty: a Postgres source (AUDIT_SOURCE %s) needs the SQL that lists the subjects", safe)
	}
	p := &Postgres{desc: safe, defaultType: opt.DefaultIDType, typeIdx: -1}
	if p.defaultType == "" {
		p.defaultType = "user_id"
	}
	qctx, stop, err := p.begin(ctx, "AUDIT_SOURCE", url, "")
	if err != nil {
		return nil, err
	}
	defer stop()
	fail := func(err error) (*Postgres, error) {
		p.Close()
		return nil, redact.Error(err, url)
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
	p.layout = Layout{IDColumn: names[p.idIdx], DefaultIDType: p.defaultType}
	if p.typeIdx >= 0 {
		p.layout.IDTypeColumn = names[p.typeIdx]
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

// Layout names the id and id-type columns of the query.
func (p *Postgres) Layout() Layout { return p.layout }

// Describe returns the source URL without its password.
func (p *Postgres) Describe() string { return p.desc }

// Total is -1: counting would run the query twice.
func (p *Postgres) Total() int64 { return -1 }

// Close ends the query and the read-only transaction and closes the
// connection. A query not read to its end is cancelled rather than drained.
func (p *Postgres) Close() error { return p.pgQuery.close() }

// pgQuery is a query streaming from a read-only transaction on a connection
// of its own: the Postgres source and ResultsPostgres.
type pgQuery struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	rows   pgx.Rows
	cancel context.CancelFunc // aborts the query (its rows live on this context)
	done   bool               // rows read to their end, or failed
}

// begin connects to url (the value of the variable named by env) and starts
// a read-only transaction at isolation level iso ("": the server's
// default). The connection and the rows of q's queries live on qctx, which
// outlives ctx: it is cancelled by close, or by ctx until stop is called
// (the caller's own calls on the server cancel it with theirs). Errors name
// env and never contain the password of url; after one, q is closed.
func (q *pgQuery) begin(ctx context.Context, env, url string, iso pgx.TxIsoLevel) (qctx context.Context, stop func() bool, err error) {
	safe := redact.URL(url)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, nil, redact.Error(fmt.Errorf("%s %s: not a valid Postgres URL: %w", env, safe, err), url)
	}
	qctx, q.cancel = context.WithCancel(context.WithoutCancel(ctx))
	stop = context.AfterFunc(ctx, q.cancel)
	q.conn, err = pgx.ConnectConfig(qctx, cfg)
	if err != nil {
		err = fmt.Errorf("%s %s: connecting: %w", env, safe, err)
	} else if q.tx, err = q.conn.BeginTx(qctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: iso}); err != nil {
		err = fmt.Errorf("%s %s: starting a read-only transaction: %w", env, safe, err)
	}
	if err != nil {
		stop()
		q.close()
		return nil, nil, redact.Error(err, url)
	}
	return qctx, stop, nil
}

// close ends the query and the transaction and closes the connection. A
// query not read to its end is cancelled rather than drained.
func (q *pgQuery) close() error {
	if q.rows != nil && !q.done {
		// rows.Close would read every remaining row: cancel instead; the
		// connection is then closed as broken, which also ends the
		// transaction on the server.
		q.cancel()
	}
	if q.rows != nil {
		q.rows.Close()
	}
	ctx := context.Background()
	if q.tx != nil && !q.conn.IsClosed() {
		_ = q.tx.Rollback(ctx) // read only: nothing to keep
	}
	var err error
	if q.conn != nil {
		err = q.conn.Close(ctx)
	}
	if q.cancel != nil {
		q.cancel()
	}
	return err
}

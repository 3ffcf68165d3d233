package sources

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// maxResultLine bounds one line of a results file.
const maxResultLine = 64 << 20

// ResultsJSONL reads back a results file written by the JSON Lines sink
// (sinks.JSONL), one result per line, for `audit report`. It implements
// pipeline.ResultSource.
//
// OpenResultsJSONL reads the first line, so Run is known at once; Next
// yields the results in file order from one goroutine; Close releases the
// file.
type ResultsJSONL struct {
	path       string
	f          io.Closer
	sc         *bufio.Scanner
	line       int
	run        pipeline.RunInfo
	seen       map[string]bool // attribute names met so far
	pending    *pipeline.Result
	started    bool // the first result is read: every other must have its run_id
	complete   bool
	incomplete string
	rec        resultLine
	err        error // sticky
}

var _ pipeline.ResultSource = (*ResultsJSONL)(nil)

// resultLine is the JSON form of a result. Every field may be missing but
// user_id and outcome; api_code may be a string or a number.
type resultLine struct {
	UserID    *string         `json:"user_id"`
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
	Error     string          `json:"error"`
	APICode   json.RawMessage `json:"api_code"`
	RequestID string          `json:"request_id"`
	Attempts  int             `json:"attempts"`
	CheckedAt string          `json:"checked_at"`
	RunID     string          `json:"run_id"`
	Exception *struct {
		State      string `json:"state"`
		Reason     string `json:"reason"`
		ApprovedBy string `json:"approved_by"`
		Expires    string `json:"expires"`
		Ticket     string `json:"ticket"`
	} `json:"exception"`
	Change  string `json:"change"`
	NCSince string `json:"non_compliant_since"`
}

// OpenResultsJSONL opens the results file at path and reads its first
// result. The run is incomplete when PATH.incomplete exists (the sinks leave
// it for an incomplete run); its text is the reason.
func OpenResultsJSONL(path string) (*ResultsJSONL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return readResultsJSONL(path, f, f)
}

// ReadResultsJSONL is OpenResultsJSONL over r, the content of the file at
// path (read again from a file kept open while another writer replaces
// it); Close does not close r.
func ReadResultsJSONL(path string, r io.Reader) (*ResultsJSONL, error) {
	return readResultsJSONL(path, r, io.NopCloser(nil))
}

func readResultsJSONL(path string, r io.Reader, f io.Closer) (*ResultsJSONL, error) {
	s := &ResultsJSONL{path: path, f: f, complete: true, seen: map[string]bool{}}
	s.sc = bufio.NewScanner(r)
	s.sc.Buffer(make([]byte, 64<<10), maxResultLine)

	s.run = pipeline.RunInfo{Source: path}
	switch b, err := os.ReadFile(path + ".incomplete"); {
	case err == nil:
		s.complete = false
		s.incomplete = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "INCOMPLETE RUN:"))
		if s.incomplete == "" {
			s.incomplete = "the run did not finish"
		}
	case !errors.Is(err, os.ErrNotExist):
		f.Close()
		return nil, err
	}

	first, err := s.read()
	switch {
	case err == io.EOF:
	case err != nil:
		f.Close()
		return nil, err
	default:
		s.pending = &first
		s.run.StartedAt = first.CheckedAt
		s.run.RunID, s.started = s.rec.RunID, true
	}
	return s, nil
}

// read decodes the next non-blank line.
func (s *ResultsJSONL) read() (pipeline.Result, error) {
	for s.sc.Scan() {
		s.line++
		b := bytes.TrimSpace(s.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		r, err := s.decode(b)
		if err != nil {
			return r, fmt.Errorf("%s line %d: %w", s.path, s.line, err)
		}
		return r, nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return pipeline.Result{}, fmt.Errorf("%s line %d: longer than %d MiB", s.path, s.line+1, maxResultLine>>20)
		}
		return pipeline.Result{}, fmt.Errorf("reading %s: %w", s.path, err)
	}
	return pipeline.Result{}, io.EOF
}

func (s *ResultsJSONL) decode(b []byte) (pipeline.Result, error) {
	r, err := decodeResultLine(b, &s.rec)
	if err != nil {
		return r, err
	}
	if s.started && s.rec.RunID != s.run.RunID {
		return pipeline.Result{}, fmt.Errorf("run_id %q, but the first result of the file has %q: a results file holds one run (were two files joined?)", s.rec.RunID, s.run.RunID)
	}
	for _, a := range r.Attrs {
		if !s.seen[a.Key] {
			s.seen[a.Key] = true
			s.run.AttrNames = append(s.run.AttrNames, a.Key)
		}
	}
	return r, nil
}

// decodeResultLine decodes one line of a results file, using l as scratch.
func decodeResultLine(b []byte, l *resultLine) (pipeline.Result, error) {
	*l = resultLine{}
	if err := json.Unmarshal(b, l); err != nil {
		return pipeline.Result{}, err
	}
	if l.UserID == nil {
		return pipeline.Result{}, errors.New(`no "user_id"`)
	}
	r := pipeline.Result{
		UserID:    *l.UserID,
		IDType:    l.IDType,
		Outcome:   pipeline.Outcome(l.Outcome),
		TOTP:      l.TOTP,
		Face:      l.Face,
		SMS:       l.SMS,
		Email:     l.Email,
		Factors:   l.Factors,
		MFA:       l.MFA,
		Compliant: l.Compliant,
		Error:     l.Error,
		RequestID: l.RequestID,
		Attempts:  l.Attempts,
	}
	if x := l.Exception; x != nil {
		r.Exception = &pipeline.Exception{State: x.State, Reason: x.Reason, ApprovedBy: x.ApprovedBy, Expires: x.Expires, Ticket: x.Ticket}
	}
	switch r.Outcome {
	case pipeline.OutcomeOK, pipeline.OutcomeNotFound, pipeline.OutcomeInvalid, pipeline.OutcomeError:
	default:
		return r, fmt.Errorf("outcome %q: want ok, not_found, invalid or error", l.Outcome)
	}
	if r.MFA == "" || (r.Factors == nil && r.Outcome == pipeline.OutcomeOK) {
		// Written by something else: derive them by the one rule.
		c := r
		c.Classify(pipeline.PolicyAny)
		if r.MFA == "" {
			r.MFA = c.MFA
		}
		if r.Factors == nil {
			r.Factors = c.Factors
		}
	}
	var err error
	if r.APICode, err = scalarText(l.APICode); err != nil {
		return r, fmt.Errorf("api_code: %w", err)
	}
	if l.CheckedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, l.CheckedAt)
		if err != nil {
			return r, fmt.Errorf("checked_at: %w", err)
		}
		r.CheckedAt = t.UTC()
	}
	if r.Change, err = pipeline.ParseChange(l.Change); err != nil {
		return r, err
	}
	if l.NCSince != "" {
		t, err := time.Parse("2006-01-02", l.NCSince)
		if err != nil {
			return r, fmt.Errorf("non_compliant_since: %w", err)
		}
		r.NonCompliantSince = t
	}
	if r.Attrs, err = decodeAttrs(l.Attrs); err != nil {
		return r, fmt.Errorf("attrs: %w", err)
	}
	return r, nil
}

// scalarText returns a JSON string's text or a number's or bool's literal;
// "" for null or nothing.
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case raw[0] == '{' || raw[0] == '[':
		return "", errors.New("want a string or a number")
	}
	return string(raw), nil
}

// decodeAttrs decodes a flat JSON object keeping the order of its keys;
// values that are not strings keep their JSON text.
func decodeAttrs(raw json.RawMessage) (pipeline.Attrs, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("want an object")
	}
	var attrs pipeline.Attrs
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		switch x := vt.(type) {
		case string:
			v = x
		case json.Number:
			v = x.String()
		case bool:
			v = strconv.FormatBool(x)
		case nil:
		default:
			return nil, fmt.Errorf("%q: want a string, number, bool or null", key)
		}
		attrs = append(attrs, pipeline.Attr{Key: key, Value: v})
	}
	return attrs, nil
}

// Run describes the stored run: RunID is the run_id of its results ("" when
// they carry none: files written before JSON Lines had it), Source the
// path, StartedAt the first result's checked_at, and
// AttrNames the attributes of the first result. Attributes first met later
// are appended as Next meets them; a RunInfo already returned keeps the
// names it had.
func (s *ResultsJSONL) Run() pipeline.RunInfo {
	r := s.run
	r.AttrNames = slices.Clone(r.AttrNames)
	return r
}

// Next returns the next result, pipeline.EOF after the last one, or an error
// naming the file and line that cannot be read; after an error it returns
// the same error again.
func (s *ResultsJSONL) Next(ctx context.Context) (pipeline.Result, error) {
	if s.err != nil {
		return pipeline.Result{}, s.err
	}
	select {
	case <-ctx.Done():
		return pipeline.Result{}, ctx.Err()
	default:
	}
	if s.pending != nil {
		r := *s.pending
		s.pending = nil
		return r, nil
	}
	r, err := s.read()
	if err != nil {
		s.err = err
		return pipeline.Result{}, err
	}
	return r, nil
}

// Stored reports the run complete unless PATH.incomplete exists; then its
// text (without the "INCOMPLETE RUN:" prefix) is the reason.
func (s *ResultsJSONL) Stored() (complete bool, incomplete string) {
	return s.complete, s.incomplete
}

// Close closes the file. It may be called more than once.
func (s *ResultsJSONL) Close() error {
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	return f.Close()
}

// CountLines returns the number of lines of the file at path (a quick
// count for sizing a table before reading it).
func CountLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Package pgrow reads a row of the results table (sinks/pgschema.go) back
// into a pipeline.Result: the Postgres sink does so when a run resumes, the
// stored-results source when a report is made from a run.
package pgrow

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Columns is the select list of a results query whose rows Scan reads, in
// Scan's order.
const Columns = "user_id, id_type, outcome, totp, face, sms, email, factors, mfa, " +
	"compliant, attrs, coalesce(error, ''), coalesce(api_code, ''), " +
	"coalesce(request_id, ''), attempts, checked_at, line, exception, coalesce(change, ''), non_compliant_since"

// Scan reads one row selected with Columns. Attributes come in attrOrder,
// then any others by name (see DecodeAttrs); Resumed is false.
func Scan(row pgx.Row, attrOrder []string) (pipeline.Result, error) {
	var (
		r         pipeline.Result
		outcome   string
		attrs     []byte
		checkedAt *time.Time
		factors   *int32
		exception []byte
		change    string
		ncSince   *time.Time
	)
	err := row.Scan(&r.UserID, &r.IDType, &outcome, &r.TOTP, &r.Face, &r.SMS, &r.Email, &factors,
		&r.MFA, &r.Compliant, &attrs, &r.Error, &r.APICode, &r.RequestID, &r.Attempts, &checkedAt, &r.Line, &exception,
		&change, &ncSince)
	if err != nil {
		return r, err
	}
	r.Outcome = pipeline.Outcome(outcome)
	if factors != nil {
		n := int(*factors)
		r.Factors = &n
	}
	if checkedAt != nil {
		r.CheckedAt = checkedAt.UTC()
	}
	r.Change = pipeline.Change(change)
	if ncSince != nil {
		r.NonCompliantSince = pipeline.Day(*ncSince)
	}
	if len(exception) > 0 && string(exception) != "null" {
		var x struct {
			State      string `json:"state"`
			Reason     string `json:"reason"`
			ApprovedBy string `json:"approved_by"`
			Expires    string `json:"expires"`
			Ticket     string `json:"ticket"`
		}
		if err := json.Unmarshal(exception, &x); err != nil {
			return r, fmt.Errorf("exception: %w", err)
		}
		r.Exception = &pipeline.Exception{State: x.State, Reason: x.Reason, ApprovedBy: x.ApprovedBy, Expires: x.Expires, Ticket: x.Ticket}
	}
	r.Attrs, err = DecodeAttrs(attrs, attrOrder)
	return r, err
}

// DecodeAttrs turns the jsonb object of the attrs column back into
// attributes: the keys of order first, in that order, then the others by
// name (jsonb does not keep the source order). A string value is taken as
// is, null as "", any other JSON value (written by another tool) as its
// JSON text. An empty object is nil.
func DecodeAttrs(b []byte, order []string) (pipeline.Attrs, error) {
	if len(b) == 0 || string(b) == "{}" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("attrs: %w", err)
	}
	out := make(pipeline.Attrs, 0, len(m))
	for _, k := range order {
		if raw, ok := m[k]; ok {
			out = append(out, pipeline.Attr{Key: k, Value: attrValue(raw)})
			delete(m, k)
		}
	}
	rest := make([]string, 0, len(m))
	for k := range m {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, pipeline.Attr{Key: k, Value: attrValue(m[k])})
	}
	return out, nil
}

func attrValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

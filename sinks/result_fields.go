package sinks

import (
	"strconv"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// ResultFields are the fields of one result (SPEC section 5) in order: the
// keys of a JSON Lines record and, with "attrs" spread into one column per
// attribute and "exception" into one per ExceptionFields, the columns of the
// CSV file and the XLSX Users sheet.
var ResultFields = []string{
	"user_id", "id_type", "outcome", "totp", "face", "sms", "email", "factors",
	"mfa", "compliant", "attrs", "error", "api_code", "request_id", "attempts", "checked_at",
	"change", "non_compliant_since",
	"exception",
}

// DateLayout is how non_compliant_since is written: 2024-05-01.
const DateLayout = "2006-01-02"

// TimeLayout is how checked_at is written in CSV and JSON Lines: RFC 3339 in
// UTC with milliseconds (2024-05-01T09:30:00.123Z).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// ExceptionFields are the keys of a result's exception object (SPEC 14), in
// order; the flat layout shows them as exception.<field> columns.
var ExceptionFields = []string{"state", "reason", "approved_by", "expires", "ticket"}

// ExceptionColumnPrefix starts the name of an exception column: exception.state.
const ExceptionColumnPrefix = "exception."

// AttrColumnPrefix starts the name of an attribute column: attr.department.
const AttrColumnPrefix = "attr."

// ColumnKind is the type of a column's values in the flat layout.
type ColumnKind int

const (
	TextColumn ColumnKind = iota // free text: goes through SafeCell in files for people
	BoolColumn                   // "true", "false", or "" for null
	IntColumn                    // decimal, or "" for null
	TimeColumn                   // TimeLayout, or "" for the zero time
	DateColumn                   // DateLayout, or "" for the zero time
)

// Column is one column of the flat layout of a result (CSV, XLSX).
type Column struct {
	Name  string     // header cell: the field name, or attr.<name>
	Field string     // the field of ResultFields it shows; "attrs" for attributes
	Attr  string     // the attribute name, for an attribute column
	Sub   string     // the exception field, for an exception column
	Kind  ColumnKind //
	// PII marks the columns that may hold e-mail addresses or phone numbers
	// (user_id, the attributes, error, the exception's reason, approver and
	// ticket): masked under Options.MaskPII.
	PII bool
}

// ResultColumns describes the flat layout: the fields of SPEC section 5 in
// order with one attr.<name> column per attribute in place of attrs, without
// the exception columns (RunColumns adds them for a run with a register).
func ResultColumns(attrNames []string) []Column {
	cols := make([]Column, 0, len(ResultFields)+len(attrNames)+len(ExceptionFields))
	for _, f := range ResultFields {
		switch f {
		case "exception":
			// Shown only for a run with a register: see RunColumns.
		case "attrs":
			for _, a := range attrNames {
				cols = append(cols, Column{Name: AttrColumnPrefix + a, Field: f, Attr: a, Kind: TextColumn, PII: true})
			}
		case "totp", "face", "sms", "email", "compliant":
			cols = append(cols, Column{Name: f, Field: f, Kind: BoolColumn})
		case "factors", "attempts":
			cols = append(cols, Column{Name: f, Field: f, Kind: IntColumn})
		case "checked_at":
			cols = append(cols, Column{Name: f, Field: f, Kind: TimeColumn})
		case "non_compliant_since":
			cols = append(cols, Column{Name: f, Field: f, Kind: DateColumn})
		default:
			cols = append(cols, Column{Name: f, Field: f, Kind: TextColumn, PII: f == "user_id" || f == "error"})
		}
	}
	return cols
}

// ResultHeader returns the header row of the flat layout:
// user_id,id_type,...,compliant,attr.<name>...,error,...,checked_at.
func ResultHeader(attrNames []string) []string {
	cols := ResultColumns(attrNames)
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.Name
	}
	return h
}

// ResultRow appends the cells of r in the flat layout of ResultColumns to
// dst[:0] and returns it: null is "", booleans true/false, checked_at in
// TimeLayout. Attributes are looked up by name (r.Attrs normally holds them
// in attrNames order); one r does not have is "". No masking and no formula
// protection is applied: see ProtectRow.
func ResultRow(r pipeline.Result, attrNames []string, dst []string) []string {
	dst = append(dst[:0],
		r.UserID,
		r.IDType,
		string(r.Outcome),
		boolText(r.TOTP),
		boolText(r.Face),
		boolText(r.SMS),
		boolText(r.Email),
		intText(r.Factors),
		r.MFA,
		boolText(r.Compliant),
	)
	for i, name := range attrNames {
		var v string
		if i < len(r.Attrs) && r.Attrs[i].Key == name {
			v = r.Attrs[i].Value
		} else {
			v, _ = r.Attrs.Get(name)
		}
		dst = append(dst, v)
	}
	return append(dst,
		r.Error,
		r.APICode,
		r.RequestID,
		strconv.Itoa(r.Attempts),
		TimeText(r.CheckedAt),
		string(r.Change),
		DateText(r.NonCompliantSince),
	)
}

// RunColumns is the flat layout of run's results: ResultColumns of its
// attributes, then, when the run applies an exceptions register
// (RunInfo.Exceptions), one exception.<field> column per ExceptionFields:
// the last fields of SPEC section 5 in CSV and XLSX.
func RunColumns(run pipeline.RunInfo) []Column {
	cols := ResultColumns(run.AttrNames)
	if run.Exceptions {
		for _, sub := range ExceptionFields {
			cols = append(cols, Column{Name: ExceptionColumnPrefix + sub, Field: "exception", Sub: sub, Kind: TextColumn,
				PII: sub == "reason" || sub == "approved_by" || sub == "ticket"})
		}
	}
	return cols
}

// RunRow is ResultRow followed, for a run with a register, by the
// exception cells of r ("" when it has none): the row of RunColumns.
func RunRow(r pipeline.Result, run pipeline.RunInfo, dst []string) []string {
	dst = ResultRow(r, run.AttrNames, dst)
	if !run.Exceptions {
		return dst
	}
	return appendExceptionCells(dst, r.Exception)
}

// appendExceptionCells appends the exception.<field> cells of x: all ""
// when x is nil.
func appendExceptionCells(dst []string, x *pipeline.Exception) []string {
	if x == nil {
		return append(dst, "", "", "", "", "")
	}
	return append(dst, x.State, x.Reason, x.ApprovedBy, x.Expires, x.Ticket)
}

// ProtectRow prepares a row of ResultRow for a CSV file meant for people, in
// place: the PII columns masked with MaskPII when maskPII is set, then every
// text cell through SafeCell. cols is ResultColumns of the same attributes.
func ProtectRow(cols []Column, row []string, maskPII bool) {
	MaskRow(cols, row, maskPII)
	for i, c := range cols {
		if c.Kind == TextColumn && i < len(row) {
			row[i] = SafeCell(row[i])
		}
	}
}

// MaskRow masks the e-mail addresses and phone numbers of a row of
// ResultRow when maskPII is set, and leaves every other value exactly as it
// is: for the workbook, whose text cells are typed as text and so never
// evaluated, and show the exact value (no apostrophe, SPEC 7).
func MaskRow(cols []Column, row []string, maskPII bool) {
	if !maskPII {
		return
	}
	for i, c := range cols {
		if c.Kind == TextColumn && c.PII && i < len(row) {
			row[i] = MaskPII(row[i])
		}
	}
}

// TimeText formats t in TimeLayout, in UTC; "" for the zero time.
func TimeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// DateText formats t's date in DateLayout (UTC); "" for the zero time.
func DateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DateLayout)
}

func boolText(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "true"
	default:
		return "false"
	}
}

func intText(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

package sinks

import (
	"bufio"
	"context"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mfa-audit/mfa-audit/internal/redact"
	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/templates"
)

// DefaultHTMLMaxRows is the number of non-compliant users (and, separately,
// of issues) the HTML report lists when Options.HTMLMaxRows is not set.
const DefaultHTMLMaxRows = 5000

// htmlMaxCell bounds the characters of one table cell in the HTML report,
// so that the file stays small whatever the input holds; the workbook
// keeps the whole value.
const htmlMaxCell = 200

// HTML writes the self-contained HTML report (SPEC section 7): the summary,
// an inline SVG chart, the group table, the first Options.HTMLMaxRows
// non-compliant users and issues, and the run details. It keeps only those
// rows while results stream, so its memory and the file's size are bounded
// whatever the number of subjects. The file is written at Close.
type HTML struct {
	path string
	opt  Options
	max  int
	run  pipeline.RunInfo

	nonCompliant     []htmlRow
	moreNonCompliant int64
	issues           []htmlRow
	moreIssues       int64
	changes          htmlChanges
}

var _ pipeline.Sink = (*HTML)(nil)

// NewHTML returns a sink writing the HTML report to path, after checking
// that its directory can be written (made if missing). The report itself
// is created at Close.
func NewHTML(path string, opt Options) (*HTML, error) {
	if path == "" {
		return nil, fmt.Errorf("html output: empty path")
	}
	if err := CheckWritable(path, opt); err != nil {
		return nil, err
	}
	h := &HTML{path: path, opt: opt, max: opt.HTMLMaxRows}
	if h.max <= 0 {
		h.max = DefaultHTMLMaxRows
	}
	return h, nil
}

// Open records the run. It is called once, before the first Write.
func (h *HTML) Open(_ context.Context, run pipeline.RunInfo) error {
	h.run = run
	return nil
}

// Write keeps r when it is non-compliant or an issue (not_found, invalid,
// error) and the report has room for it, else counts it.
func (h *HTML) Write(_ context.Context, r pipeline.Result) error {
	h.noteChange(&r)
	switch {
	case r.Outcome == pipeline.OutcomeOK:
		if r.Compliant == nil || *r.Compliant {
			return nil
		}
		if len(h.nonCompliant) >= h.max {
			h.moreNonCompliant++
			return nil
		}
		h.nonCompliant = append(h.nonCompliant, h.row(&r))
	default:
		if len(h.issues) >= h.max {
			h.moreIssues++
			return nil
		}
		h.issues = append(h.issues, h.row(&r))
	}
	return nil
}

// Close renders the report for s and moves it into place; an incomplete run
// says so at the top and leaves PATH.incomplete. It is called once, also
// after an interrupted run, and does not give up on a cancelled ctx: an
// interrupted run still gets its report.
func (h *HTML) Close(_ context.Context, s pipeline.Summary) error {
	run := s.Run
	if run.RunID == "" && run.StartedAt.IsZero() {
		run = h.run
	}
	if run.AttrNames == nil {
		run.AttrNames = h.run.AttrNames
	}
	data := h.report(run, &s)

	f, err := createAtomic(h.path, h.opt)
	if err != nil {
		return fmt.Errorf("html output %s: %w", h.path, err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if err := reportTemplate.Execute(w, data); err != nil {
		f.Abort()
		return fmt.Errorf("html output %s: %w", h.path, err)
	}
	if err := w.Flush(); err != nil {
		f.Abort()
		return fmt.Errorf("html output %s: %w", h.path, err)
	}
	if err := f.Commit(incompleteReason(&s)); err != nil {
		return fmt.Errorf("html output %s: %w", h.path, err)
	}
	return nil
}

// htmlRow is one user in the non-compliant or issues table, already masked
// and cut to size.
type htmlRow struct {
	UserID, IDType     string
	Outcome            string // label in words
	OutcomeClass       string
	MFA                string
	Factors            string // bound factors in words
	Error              string
	Words, Detail      string // issueWords: what happened, and the technical detail
	APICode, RequestID string
	Line               string
	Attempts           int
	CheckedAt          string
	Attrs              []string // in the order of RunInfo.AttrNames
	// Exception says in words what the exceptions register says of the
	// user ("excepted until 2027-03-31"); ExceptionState is its state and
	// Excepted true when it is active.
	Exception, ExceptionState string
	Excepted                  bool
}

func (h *HTML) row(r *pipeline.Result) htmlRow {
	row := htmlRow{
		UserID:    h.text(r.UserID),
		IDType:    cut(r.IDType),
		Outcome:   outcomeLabel(r.Outcome),
		MFA:       r.MFA,
		Factors:   boundFactors(r),
		Error:     h.text(r.Error),
		APICode:   cut(r.APICode),
		RequestID: cut(r.RequestID),
		Attempts:  r.Attempts,
		CheckedAt: formatTime(r.CheckedAt),
	}
	if r.Outcome != pipeline.OutcomeOK {
		words, detail := issueWords(r)
		row.Words, row.Detail = words, h.text(detail)
	}
	row.OutcomeClass = strings.ReplaceAll(string(r.Outcome), "_", "-")
	row.Exception, row.ExceptionState, row.Excepted = exceptionWords(r.Exception)
	if r.Line > 0 {
		row.Line = strconv.FormatInt(r.Line, 10)
	}
	if len(h.run.AttrNames) > 0 {
		row.Attrs = make([]string, len(h.run.AttrNames))
		for i, name := range h.run.AttrNames {
			v, _ := r.Attrs.Get(name)
			row.Attrs[i] = h.text(v)
		}
	}
	return row
}

// text masks (when asked) and cuts a value that came from input or the API.
func (h *HTML) text(s string) string {
	if h.opt.MaskPII {
		s = MaskPII(s)
	}
	return cut(s)
}

// cut shortens s to htmlMaxCell characters, marking the cut with an ellipsis,
// and drops invalid UTF-8.
func cut(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if utf8.RuneCountInString(s) <= htmlMaxCell {
		return s
	}
	n := 0
	for i := range s {
		if n == htmlMaxCell-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

func outcomeLabel(o pipeline.Outcome) string {
	switch o {
	case pipeline.OutcomeOK:
		return "Checked"
	case pipeline.OutcomeNotFound:
		return "Not found"
	case pipeline.OutcomeInvalid:
		return "Invalid"
	case pipeline.OutcomeError:
		return "Unknown (error)"
	}
	return string(o)
}

var factorLabels = map[string]string{"totp": "TOTP app", "face": "Face", "sms": "SMS", "email": "E-mail"}

// boundFactors lists the factors bound, in words ("SMS, E-mail"), "none"
// when nothing is bound, "" when the state is unknown.
func boundFactors(r *pipeline.Result) string {
	if r.Outcome != pipeline.OutcomeOK {
		return ""
	}
	var on []string
	for _, f := range pipeline.Factors {
		if b := r.Factor(f); b != nil && *b {
			on = append(on, factorLabels[f])
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}

// status is the completeness banner shared by the HTML report and the
// workbook, in the summary's words (pipeline.Summary.Banner).
type status = pipeline.Banner

func runStatus(s *pipeline.Summary) status { return s.Banner() }

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// policyText describes a policy in words.
func policyText(p pipeline.Policy) string {
	switch p {
	case pipeline.PolicyStrong:
		return "strong: TOTP app or face bound"
	case pipeline.PolicyAny, "":
		return "any: at least one factor bound"
	}
	return string(p)
}

// formatCount renders n with thousands separators: 1,234,567.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatTime renders t in UTC to the second; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// redactValue hides the passwords of a configuration value (redact.URL:
// URL user info, password/secret/token/key parameters). Values are kept
// otherwise.
func redactValue(v string) string { return redact.URL(v) }

// secretKey reports whether a configuration key names a secret; such keys
// are never shown, whatever their value.
func secretKey(k string) bool {
	k = strings.ToUpper(k)
	for _, s := range []string{"SECRET", "PASSWORD", "TOKEN", "PASSWD"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// kv is one line of the run details.
type kv struct {
	Key, Value string
}

// runDetails lists the run's facts for the Run sheet and the HTML report.
func runDetails(run *pipeline.RunInfo, s *pipeline.Summary) []kv {
	complete := "yes"
	if !s.Complete {
		complete = "no"
	}
	out := []kv{
		{"Run ID", run.RunID},
		{"Tool version", run.Version},
		{"GenAuth host", redactValue(run.Host)},
		{"Machine", run.Hostname},
		{"Source", redactValue(run.Source)},
		{"Shard", run.Shard.String()},
		{"Policy", policyText(run.Policy)},
		{"Group by", run.GroupBy},
		{"Started (data as of)", formatTime(run.StartedAt)},
		{"Finished", formatTime(s.FinishedAt)},
		{"Complete", complete},
	}
	if !s.Complete {
		out = append(out, kv{"Incomplete because", incompleteReason(s)})
	}
	if e := run.Evidence; e != nil {
		rev := e.Revision
		if rev == "" {
			rev = "unknown (built without VCS information)"
		}
		out = append(out, kv{"Build revision", rev})
		if e.InputSHA256 != nil {
			if sum := e.InputSHA256(); sum != "" {
				out = append(out, kv{"Input SHA-256", sum})
			}
		}
		manifest := e.Manifest
		if manifest == "" {
			manifest = "none (AUDIT_MANIFEST=none)"
		}
		out = append(out, kv{"Evidence manifest", manifest})
	}
	if s.Resumed > 0 {
		out = append(out, kv{"Resumed from an earlier attempt", formatCount(s.Resumed) + " users"})
	}
	if len(run.AttrNames) > 0 {
		out = append(out, kv{"Attributes", strings.Join(run.AttrNames, ", ")})
	}
	return out
}

// configDetails lists the configuration sorted by key, without secrets.
func configDetails(cfg map[string]string) []kv {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		if !secretKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{k, redactValue(cfg[k])})
	}
	return out
}

// htmlReport is what the template renders.
type htmlReport struct {
	CSS    template.CSS // the embedded style sheet (never user data)
	Title  string
	RunID  string // for the printed pages' footer
	Status status
	Final  bool // coverage is final: complete and nothing unknown
	// FakeAPI: the answers came from the built-in fake (a FAKE API banner).
	FakeAPI bool

	Policy     string
	StartedAt  string
	FinishedAt string
	Host       string
	Source     string
	Masked     bool

	C          pipeline.Counts
	RowsRead   int64
	Duplicates int64
	OtherShard int64
	Sharded    bool

	Coverage, Completeness string
	Chart, ChartNarrow     barChart

	GroupBy    string
	Groups     []htmlGroup
	MoreGroups int

	AttrNames        []string
	NonCompliant     []htmlRow
	MoreNonCompliant int64
	Issues           []htmlRow
	MoreIssues       int64
	MaxRows          int
	// Where the rows and groups left out are: only outputs that exist.
	UsersWhere, IssuesWhere, GroupsWhere string

	Since *htmlSince // change since the baseline; nil without one
	Trend *lineChart // nil without earlier runs

	Run    []kv
	Config []kv

	// Exc is the exceptions register's part; nil without a register.
	Exc *htmlExceptions
}

type htmlGroup struct {
	Name string
	pipeline.Counts
	Coverage, Completeness string
	Bar                    string // coverage as a CSS width percentage
}

func (h *HTML) report(run pipeline.RunInfo, s *pipeline.Summary) *htmlReport {
	st := runStatus(s)
	d := &htmlReport{
		CSS:              template.CSS(reportCSS),
		Title:            "MFA coverage audit",
		RunID:            run.RunID,
		Status:           st,
		Final:            st.Class == "complete",
		Policy:           policyText(run.Policy),
		StartedAt:        formatTime(run.StartedAt),
		FinishedAt:       formatTime(s.FinishedAt),
		Host:             redactValue(run.Host),
		FakeAPI:          run.FakeAPI,
		Source:           redactValue(run.Source),
		Masked:           h.opt.MaskPII,
		C:                s.Counts,
		RowsRead:         s.RowsRead,
		Duplicates:       s.Duplicates,
		OtherShard:       s.OtherShard,
		Sharded:          run.Shard.Sharded(),
		Coverage:         s.CoverageShare().String(),
		Completeness:     s.CompletenessShare().String(),
		Chart:            newBarChart(s.Counts),
		ChartNarrow:      newBarChartNarrow(s.Counts),
		GroupBy:          run.GroupBy,
		AttrNames:        run.AttrNames,
		NonCompliant:     h.nonCompliant,
		MoreNonCompliant: h.moreNonCompliant,
		Issues:           h.issues,
		MoreIssues:       h.moreIssues,
		MaxRows:          h.max,
		UsersWhere:       elsewhere(h.opt.Outputs, "Users"),
		IssuesWhere:      elsewhere(h.opt.Outputs, "Issues"),
		GroupsWhere:      groupsElsewhere(h.opt.Outputs),
		Run:              runDetails(&run, s),
		Config:           configDetails(run.Config),
		Since:            h.since(run, s),
		Trend:            newTrendChart(s.Trend),
	}
	d.Exc = h.exceptions(s)
	for i, g := range s.Groups() {
		if i >= h.max {
			d.MoreGroups++
			continue
		}
		d.Groups = append(d.Groups, htmlGroup{
			Name:         h.text(g.Name),
			Counts:       g.Counts,
			Coverage:     g.CoverageShare().String(),
			Completeness: g.CompletenessShare().String(),
			Bar:          meterWidth(g.CoverageShare()),
		})
	}
	return d
}

// meterWidth is a share as a CSS width percentage, matching the shown figure.
func meterWidth(sh pipeline.Share) string {
	p, _ := sh.Percent()
	return strconv.FormatFloat(p, 'f', -1, 64)
}

var reportCSS = mustRead(templates.ReportCSS)

var reportTemplate = template.Must(template.New(templates.ReportHTML).Funcs(template.FuncMap{
	"count": formatCount,
	"share": func(c pipeline.Counts, n int64) string { return c.ShareOf(n).String() },
	"int64": func(n int) int64 { return int64(n) },
	// breakable lets a column name wrap after its underscores
	// (employee_<wbr>number) rather than mid-word.
	"breakable": func(s string) template.HTML {
		parts := strings.Split(s, "_")
		for i, p := range parts {
			parts[i] = template.HTMLEscapeString(p)
		}
		return template.HTML(strings.Join(parts, "_<wbr>"))
	},
	"add": func(ns ...int64) int64 {
		var t int64
		for _, n := range ns {
			t += n
		}
		return t
	},
}).ParseFS(templates.FS, templates.ReportHTML, templates.Sections))

func mustRead(name string) string {
	b, err := templates.FS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

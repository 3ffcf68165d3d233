package sinks

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/exceptions"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// exceptionRegister names subjects of reportResults in every state; the run
// is dated 2026-03-02 (reportStart). Its text fields carry addresses, a
// phone number and a formula payload.
const exceptionRegister = "id_type,user_id,reason,approved_by,expires,ticket\n" +
	"user_id,u00005,Service account,ciso@example.com,2026-12-31,SEC-1\n" + // none: active
	"user_id,u00006,\"On leave, call +86 139 1234 5678\",ciso@example.com,2026-03-20,SEC-2\n" + // none: expiring
	"user_id,u00015,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",ciso@example.com,2026-03-01,SEC-3\n" + // none: expired
	"user_id,u00016,Break-glass admin,head@example.com,2026-03-02,@SUM(A1)\n" + // none: active, expiring on its last day
	"user_id,u00000,Lost phone,helpdesk@example.com,2026-12-31,\n" + // strong: unneeded
	"user_id,u00017,Left,ciso@example.com,2026-12-31,\n" + // not_found: stale
	"user_id,u00019,Unknown,ciso@example.com,2026-12-31,\n" + // error: unknown
	"user_id,ghost,Nobody,ciso@example.com,2026-12-31,\n" // not in the run: stale

func exceptionInputs(t *testing.T) (pipeline.RunInfo, []pipeline.Result, pipeline.Summary) {
	t.Helper()
	reg, err := exceptions.Parse("exceptions.csv", []byte(exceptionRegister), "user_id")
	if err != nil {
		t.Fatal(err)
	}
	run := reportRun()
	run.Exceptions = true
	results := reportResults(20)
	j := exceptions.NewJudge(reg, run.StartedAt, 30, pipeline.Shard{})
	for i := range results {
		j.Apply(&results[i])
	}
	s := summarize(run, results, true, "")
	s.Exceptions = j.Report()
	return run, results, s
}

func TestExceptionInputsArithmetic(t *testing.T) {
	_, results, s := exceptionInputs(t)
	states := map[string]string{}
	for _, r := range results {
		if r.Exception != nil {
			states[r.UserID] = r.Exception.State
		}
	}
	want := map[string]string{"u00005": "active", "u00006": "active", "u00015": "expired", "u00016": "active", "u00000": "unneeded"}
	if len(states) != len(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("%s: %s, want %s", k, states[k], v)
		}
	}
	x := s.Exceptions
	if s.Excepted != 3 || x.Active != 3 || x.Expiring != 2 || x.Expired != 1 || x.Unneeded != 1 || x.Stale != 2 || x.Unknown != 1 {
		t.Fatalf("excepted %d, report %+v", s.Excepted, x)
	}
	if got, want := s.CoverageWithExceptionsShare(), (pipeline.Share{N: s.Compliant + 3, D: s.OK}); got != want {
		t.Fatalf("coverage with exceptions %v, want %v", got, want)
	}
}

func TestExceptionColumnsCSVMasked(t *testing.T) {
	run, results, s := exceptionInputs(t)
	for _, mask := range []bool{false, true} {
		path := tempPath(t, "a.csv")
		sink, _ := NewCSV(path, Options{MaskPII: mask})
		writeAll(t, sink, run, results, s)
		f, _ := os.Open(path)
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := recs[0]
		if got := h[len(h)-5:]; !slices.Equal(got, []string{"exception.state", "exception.reason", "exception.approved_by", "exception.expires", "exception.ticket"}) {
			t.Fatalf("header ends %q", got)
		}
		byID := map[string][]string{}
		for _, r := range recs[1:] {
			byID[r[0]] = r[len(r)-5:]
		}
		exp := byID["u00015"]
		if exp[0] != "expired" || exp[1] != `'=HYPERLINK("http://x","y")` || exp[3] != "2026-03-01" {
			t.Errorf("mask=%v u00015: %q", mask, exp)
		}
		if a := byID["u00006"]; mask && (a[2] != "c***@***.com" || strings.Contains(a[1], "1234 5678")) ||
			!mask && (a[2] != "ciso@example.com" || a[1] != "On leave, call +86 139 1234 5678") {
			t.Errorf("mask=%v u00006: %q", mask, a)
		}
		if a := byID["u00016"]; a[4] != "'@SUM(A1)" {
			t.Errorf("ticket not neutralised: %q", a)
		}
		if a := byID["u00001"]; !slices.Equal(a, []string{"", "", "", "", ""}) {
			t.Errorf("no exception: %q", a)
		}
	}
}

func TestExceptionsSheet(t *testing.T) {
	run, results, s := exceptionInputs(t)
	for _, mask := range []bool{false, true} {
		f, path := writeXLSX(t, Options{MaskPII: mask}, run, results, s)
		if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Users", "Issues", "Exceptions", "Run"}) {
			t.Fatalf("sheets %q", got)
		}
		rows, err := f.GetRows(SheetExceptions)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 9 {
			t.Fatalf("%d rows on Exceptions, want header + 8", len(rows))
		}
		var states, ids []string
		for _, r := range rows[1:] {
			states = append(states, r[0])
			ids = append(ids, r[4])
		}
		if want := []string{"expired", "expiring", "expiring", "stale", "stale", "unknown", "active", "unneeded"}; !slices.Equal(states, want) {
			t.Errorf("states %q, want %q", states, want)
		}
		if want := []string{"u00015", "u00016", "u00006", "u00017", "ghost", "u00019", "u00005", "u00000"}; !slices.Equal(ids, want) {
			t.Errorf("ids %q, want %q", ids, want)
		}
		if r := rows[1]; r[2] != "-1" || r[7] != "2026-03-01" || r[10] != "ok" || r[11] != "none" {
			t.Errorf("expired row %q", r)
		}
		if r := rows[2]; r[2] != "0" {
			t.Errorf("last-day row %q", r)
		}
		if r := rows[5]; r[10] != "not in this run" {
			t.Errorf("ghost row %q", r)
		}
		parts := zipParts(t, path)
		sheet := parts["xl/worksheets/sheet4.xml"]
		if strings.Contains(sheet, "<f>") {
			t.Error("a formula on the Exceptions sheet")
		}
		if strings.Contains(sheet, "@example.com") != !mask || strings.Contains(strings.Join(rowsText(rows), " "), "@example.com") != !mask {
			t.Errorf("mask=%v: addresses on the Exceptions sheet: %v", mask, rows)
		}
		users, _ := f.GetRows(SheetUsers)
		if h := users[0]; h[len(h)-5] != "exception.state" {
			t.Errorf("Users header %q", h)
		}
		summary, _ := f.GetRows(SheetSummary)
		text := strings.Join(rowsText(summary), "\n")
		for _, want := range []string{"Coverage with exceptions", "Excepted (non-compliant, active exception)\t3", "Entries stale (name nobody this run could audit)\t2", "… of which expiring within 30 days\t2"} {
			if !strings.Contains(text, want) {
				t.Errorf("Summary lacks %q:\n%s", want, text)
			}
		}
	}
}

func rowsText(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "\t")
	}
	return out
}

func TestExceptionsHTML(t *testing.T) {
	run, results, s := exceptionInputs(t)
	for _, mask := range []bool{false, true} {
		path := tempPath(t, "r.html")
		sink, _ := NewHTML(path, Options{MaskPII: mask})
		writeAll(t, sink, run, results, s)
		b, _ := os.ReadFile(path)
		page := string(b)
		for _, want := range []string{
			"Coverage with exceptions", s.CoverageWithExceptionsShare().String(),
			`<span class="pill pill-exc-expired">expired</span>`, `<span class="pill pill-exc-expiring">expiring</span>`,
			`<span class="pill pill-exc-stale">stale</span>`, "1 day ago", "last day today",
			`class="excepted"`, "excepted until 2026-12-31", "exception expired 2026-03-01",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("mask=%v: the page lacks %q", mask, want)
			}
		}
		if strings.Contains(page, "<td>Service account</td>") {
			t.Error("an active entry far from expiry is listed as needing a decision")
		}
		if strings.Contains(page, "ciso@example.com") != !mask || strings.Contains(page, "139 1234 5678") != !mask {
			t.Errorf("mask=%v: masking of the register's fields", mask)
		}
	}
}

// TestExceptionsSheetLibreOffice opens the workbook in LibreOffice and reads
// the Exceptions sheet back as CSV.
func TestExceptionsSheetLibreOffice(t *testing.T) {
	soffice := lookTool(t, "libreoffice-calc-nogui", "soffice", "libreoffice")
	run, results, s := exceptionInputs(t)
	_, path := writeXLSX(t, Options{}, run, results, s)
	out, profile := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "--headless", "--norestore", "--nolockcheck",
		"-env:UserInstallation=file://"+profile,
		"--convert-to", `csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1`,
		"--outdir", out, path)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, msg)
	}
	fh, err := os.Open(filepath.Join(out, "audit-Exceptions.csv"))
	if err != nil {
		entries, _ := os.ReadDir(out)
		t.Fatalf("%v (soffice wrote %v)", err, entries)
	}
	defer fh.Close()
	cr := csv.NewReader(fh)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || recs[0][0] != "state" || recs[0][4] != "user_id" {
		t.Fatalf("LibreOffice reads %d rows: %q", len(recs), recs)
	}
	for i, e := range sortedExceptionEntries(s.Exceptions) {
		r := recs[i+1]
		if r[0] != e.State || r[4] != e.UserID || r[5] != cellText(e.Reason, false) || r[7] != e.Expires {
			t.Errorf("row %d in LibreOffice %q, want %s %s %q %s", i+1, r, e.State, e.UserID, e.Reason, e.Expires)
		}
	}
}

// TestExceptionsHTMLGolden keeps the HTML report of a run with a register
// (masked) as a golden file: go test ./sinks -run Golden -update.
func TestExceptionsHTMLGolden(t *testing.T) {
	run, results, s := exceptionInputs(t)
	path := tempPath(t, "r.html")
	sink, _ := NewHTML(path, Options{MaskPII: true})
	writeAll(t, sink, run, results, s)
	got, _ := os.ReadFile(path)
	golden := filepath.Join("..", "testdata", "html", "exceptions-masked", "report.golden.html")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./sinks -run Golden -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("report differs from %s (rerun with -update if the change is intended):\n%s", golden, firstDiff(got, want))
	}
}

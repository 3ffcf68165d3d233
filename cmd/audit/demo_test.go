package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/demo"
	"github.com/mfa-audit/mfa-audit/internal/axetest"
)

// TestDemoReportsAgreeWithJSONL runs `audit demo` and checks every figure
// a compliance officer sees against the JSON Lines record: the workbook as
// LibreOffice reads it (a real spreadsheet program must open our file) and
// the HTML page.
func TestDemoReportsAgreeWithJSONL(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"demo", "--out", out}, nil, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("demo exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// The demo audits the sample as it was a month ago (the baseline) and
	// as it is now (the reports): some rows gone with their users, joiners
	// added.
	if before := readJSONL(t, filepath.Join(out, "mfa-audit.before.jsonl")); len(before) != 410 || uniqueSubjects(t, demo.Input()) != 410 {
		t.Fatalf("the baseline has %d results, want the sample's 410 unique subjects", len(before))
	}
	results := readJSONL(t, filepath.Join(out, "mfa-audit.jsonl"))
	if want := uniqueSubjects(t, demo.LaterInput(demo.Later)); len(results) != want {
		t.Fatalf("demo wrote %d results, want the later sample's %d unique subjects", len(results), want)
	}
	for _, w := range []string{"change_new_gap=", "change_left=", "change_joined="} {
		if strings.Contains(stdout.String(), w+"0 ") || !strings.Contains(stdout.String(), w) {
			t.Errorf("the demo's final log line shows no %s...", w)
		}
	}
	var ok, notFound, invalid, unknown, compliant int
	types := map[string]bool{}
	for _, r := range results {
		types[r.IDType] = true
		switch r.Outcome {
		case "ok":
			ok++
			if *r.Compliant {
				compliant++
			}
		case "not_found":
			notFound++
		case "invalid":
			invalid++
		default:
			unknown++
		}
	}
	if len(types) < 8 || notFound == 0 || invalid == 0 || unknown != 0 {
		t.Errorf("demo lacks variety: %d id types, %d not found, %d invalid, %d unknown", len(types), notFound, invalid, unknown)
	}
	// The share shown everywhere: one decimal, half away from zero.
	coverage := fmt.Sprintf("%.1f%%", math.Round(float64(compliant)*1000/float64(ok))/10)

	// The HTML page states the same figures.
	page, err := os.ReadFile(filepath.Join(out, "mfa-audit.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{coverage, ">" + strconv.Itoa(ok-compliant) + "<", ">" + strconv.Itoa(len(results)) + "<", "Since "} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the HTML report does not show %q", want)
		}
	}

	// The log line states the same share (one set of figures).
	if want := "coverage_pct=" + strings.TrimSuffix(coverage, "%"); !strings.Contains(stderr.String(), want) && !strings.Contains(stdout.String(), want) {
		t.Errorf("the log line does not say %s", want)
	}

	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
			t.Fatal("soffice is not on PATH but AUDIT_TEST_REQUIRE_ALL says this test must run (apt-get install libreoffice-calc-nogui)")
		}
		t.Skip("skipping the LibreOffice half: soffice is not on PATH (apt-get install libreoffice-calc-nogui)")
	}
	conv, profile := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "--headless", "--norestore", "--nolockcheck", "-env:UserInstallation=file://"+profile,
		"--convert-to", `csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1`,
		"--outdir", conv, filepath.Join(out, "mfa-audit.xlsx"))
	cmd.Env = append(os.Environ(), "HOME="+profile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, msg)
	}
	sheet := func(name string) [][]string {
		b, err := os.ReadFile(filepath.Join(conv, "mfa-audit-"+name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(bytes.NewReader(b))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	users := sheet("Users")
	if len(users) != len(results)+1 {
		t.Fatalf("LibreOffice sees %d Users rows, want %d", len(users)-1, len(results))
	}
	for i, r := range results {
		row := users[i+1]
		compliantCell := ""
		if r.Compliant != nil {
			compliantCell = strings.ToUpper(strconv.FormatBool(*r.Compliant))
		}
		got := []string{row[0], row[1], row[2], row[8], row[9]}
		want := []string{r.UserID, r.IDType, r.Outcome, r.MFA, compliantCell}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Users row %d in LibreOffice %q, JSONL says %q", i+1, got, want)
		}
	}
	figures := map[string]string{}
	for _, row := range sheet("Summary") {
		if len(row) > 1 {
			figures[row[0]] = row[1]
		}
	}
	for label, want := range map[string]string{
		"Unique subjects":                strconv.Itoa(len(results)),
		"Checked (ok)":                   strconv.Itoa(ok),
		"Not found":                      strconv.Itoa(notFound),
		"Invalid":                        strconv.Itoa(invalid),
		"Unknown (error)":                strconv.Itoa(unknown),
		"Compliant":                      strconv.Itoa(compliant),
		"Non-compliant":                  strconv.Itoa(ok - compliant),
		"Coverage (compliant ÷ checked)": coverage,
	} {
		if figures[label] != want {
			t.Errorf("Summary %q is %q in LibreOffice, the JSONL gives %q", label, figures[label], want)
		}
	}
	if issues := sheet("Issues"); len(issues)-1 != notFound+invalid+unknown {
		t.Errorf("Issues has %d rows, want %d", len(issues)-1, notFound+invalid+unknown)
	}
}

// TestDemoAccessible runs axe-core on the demo's HTML report at 1280 and
// 375 px (SPEC 7, "Accessible").
func TestDemoAccessible(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"demo", "--out", out}, nil, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("demo exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	axetest.Check(t, filepath.Join(out, "mfa-audit.html"))
}

// uniqueSubjects counts the subjects of a CSV input as SPEC 4 defines
// them: (id type, id) trimmed, the type user_id when empty, e-mail ids in
// any case one subject.
func uniqueSubjects(t *testing.T, input []byte) int {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(input)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]string]bool{}
	for _, r := range rows[1:] {
		typ, id := strings.TrimSpace(r[1]), strings.TrimSpace(r[0])
		if typ == "" {
			typ = "user_id"
		}
		if typ == "email" {
			id = strings.ToLower(id)
		}
		seen[[2]string{typ, id}] = true
	}
	return len(seen)
}

package sinks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// TestXLSXPrintSetup reads the print setup and the document properties
// back with excelize: every list sheet landscape, one page wide (with
// FitToPage, or the fit is ignored), the header row as print titles, a
// footer with the run id and page N of M; Summary one page wide; title,
// creator and created = the run's start.
func TestXLSXPrintSetup(t *testing.T) {
	run := reportRun()
	results := reportResults(250)
	s := summarize(run, results, true, "")
	f, _ := writeXLSX(t, Options{XLSXMaxRows: 100}, run, results, s)

	titles := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			titles[dn.Scope] = dn.RefersTo
		}
	}
	lists := []string{"Users", "Users (2)", "Users (3)", "Issues"}
	for _, sheet := range append(lists, "Summary", "Run") {
		list := sheet != "Summary" && sheet != "Run"
		pl, err := f.GetPageLayout(sheet)
		if err != nil {
			t.Fatalf("%s: %v", sheet, err)
		}
		if pl.Orientation == nil || *pl.Orientation != "landscape" || pl.FitToWidth == nil || *pl.FitToWidth != 1 ||
			pl.FitToHeight == nil || *pl.FitToHeight != 0 {
			t.Errorf("%s page layout: orientation %v fit %v x %v, want landscape, one page wide", sheet, deref(pl.Orientation), deref(pl.FitToWidth), deref(pl.FitToHeight))
		}
		props, err := f.GetSheetProps(sheet)
		if err != nil || props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: FitToPage not set (%v): the fit to one page wide would be ignored", sheet, err)
		}
		hf, err := f.GetHeaderFooter(sheet)
		if err != nil || !strings.Contains(hf.OddFooter, run.RunID) || !strings.Contains(hf.OddFooter, "page &P of &N") {
			t.Errorf("%s footer %q (%v), want the run id and page &P of &N", sheet, hf.OddFooter, err)
		}
		want := ""
		if list {
			want = "'" + sheet + "'!$1:$1"
		}
		if titles[sheet] != want {
			t.Errorf("%s print titles %q, want %q", sheet, titles[sheet], want)
		}
	}

	p, err := f.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "MFA coverage audit" || p.Creator != "mfa-audit "+run.Version {
		t.Errorf("document title %q creator %q", p.Title, p.Creator)
	}
	created, err := time.Parse(time.RFC3339, p.Created)
	if err != nil || !created.Equal(run.StartedAt) {
		t.Errorf("document created %q, want the run's start %v", p.Created, run.StartedAt)
	}
	if modified, err := time.Parse(time.RFC3339, p.Modified); err != nil || !modified.Equal(s.FinishedAt.Truncate(time.Second)) {
		t.Errorf("document modified %q, want the run's end %v", p.Modified, s.FinishedAt)
	}
}

// TestXLSXPrintsWhole prints a wide workbook with LibreOffice to PDF and
// reads it back with pdftotext, page by page: every page of a list sheet
// has the header row and every column (the first and the last), every page
// is footed with the run id and page N of M, and every subject is printed.
func TestXLSXPrintsWhole(t *testing.T) {
	soffice := lookTool(t, "libreoffice-calc-nogui", "soffice", "libreoffice")
	pdftotext := lookTool(t, "poppler-utils", "pdftotext")
	run := wideRun()
	results := wideResults(600)
	s := summarize(run, results, false, "interrupted (SIGTERM)")
	_, path := writeXLSX(t, Options{}, run, results, s)

	pdf := convertWithLibreOffice(t, soffice, path, "pdf")
	pages := pdfPages(t, pdftotext, pdf)
	keepPrint(t, pdf)

	ids := map[string]bool{}
	listPages := 0
	for i, page := range pages {
		n := i + 1
		text := strings.Join(strings.Fields(page), " ")
		if !strings.Contains(text, run.RunID) || !strings.Contains(text, fmt.Sprintf("page %d of %d", n, len(pages))) {
			t.Errorf("page %d of %d is not footed with the run id and page %d of %d:\n%s", n, len(pages), n, len(pages), lastLines(page, 3))
		}
		found := wideIDRE.FindAllString(page, -1)
		if len(found) == 0 {
			continue
		}
		listPages++
		for _, id := range found {
			ids[id] = true
		}
		// The header row and every column on the page: the first and last
		// header, and a value of the first, an attribute and the last column.
		for _, want := range []string{"user_id", "attr.location", "checked_at", "Loc-", "2026-03-02"} {
			if !strings.Contains(page, want) {
				t.Errorf("list page %d lacks %q: a column or the header row is cut", n, want)
			}
		}
	}
	// Whole values, not cut at the next cell: every subject and every
	// manager e-mail (the widest attribute) is printed in full.
	all := strings.Join(strings.Fields(strings.Join(pages, "")), "")
	for _, r := range results {
		if r.Outcome != pipeline.OutcomeInvalid && !ids[r.UserID] {
			t.Errorf("%s is on no printed page", r.UserID)
			break
		}
		if m, _ := r.Attrs.Get("manager_email"); !strings.Contains(all, m) {
			t.Errorf("%s's manager e-mail %q is not printed whole", r.UserID, m)
			break
		}
	}
	// Users and Issues one page wide: about 45 rows a page, not 4 columns.
	if listPages == 0 || listPages > len(results)/20 {
		t.Errorf("%d list pages for %d users: not one page wide", listPages, len(results))
	}
	t.Logf("%d pages, %d of list sheets", len(pages), listPages)
}

var wideIDRE = regexp.MustCompile(`\bw\d{5}\b`)

// convertWithLibreOffice converts path with soffice --convert-to and
// returns the output file.
func convertWithLibreOffice(t *testing.T, soffice, path, format string) string {
	t.Helper()
	out := t.TempDir()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "--headless", "--norestore", "--nolockcheck",
		"-env:UserInstallation=file://"+profile, "--convert-to", format, "--outdir", out, path)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, msg)
	}
	name := filepath.Join(out, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+"."+format)
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("soffice wrote no %s: %v", format, err)
	}
	return name
}

// pdfPages returns the text of each page of a PDF (pdftotext -layout).
func pdfPages(t *testing.T, pdftotext, pdf string) []string {
	t.Helper()
	out, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", pdf, err)
	}
	pages := strings.Split(string(out), "\f")
	if n := len(pages); n > 0 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1]
	}
	if len(pages) == 0 {
		t.Fatalf("%s has no pages", pdf)
	}
	return pages
}

// keepPrint copies a printed file to $MFA_AUDIT_PRINT_DIR, to look at.
func keepPrint(t *testing.T, path string) {
	dir := os.Getenv("MFA_AUDIT_PRINT_DIR")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, t.Name()+filepath.Ext(path)), b, 0o644)
	}
	if err != nil {
		t.Log(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

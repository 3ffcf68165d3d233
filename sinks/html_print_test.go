package sinks

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/axetest"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// writeHTMLReport writes results through the HTML sink into dir/name.
func writeHTMLReport(t *testing.T, dir, name string, opt Options, run pipeline.RunInfo, results []pipeline.Result, s pipeline.Summary) string {
	t.Helper()
	path := filepath.Join(dir, name)
	sink, err := NewHTML(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, sink, run, results, s)
	return path
}

// TestHTMLAccessible runs axe-core on reports of every kind at 1280 and
// 375 px: a small one with hostile payloads, a wide 3,000-row one with five
// extra columns and unknown users, an incomplete masked one and an empty
// one. No violation, and no request for anything but the page.
func TestHTMLAccessible(t *testing.T) {
	dir := t.TempDir()
	run := reportRun()
	small := reportResults(300)
	wide := wideResults(3000)
	files := []string{
		writeHTMLReport(t, dir, "small.html", Options{}, run, small, summarize(run, small, true, "")),
		// The tables of a 3,000-user run, cut at 150 rows each (the
		// structure is the same at 5,000; axe takes minutes on those).
		writeHTMLReport(t, dir, "wide.html", Options{HTMLMaxRows: 150}, wideRun(), wide, summarize(wideRun(), wide, true, "")),
		writeHTMLReport(t, dir, "incomplete-masked.html", Options{MaskPII: true, HTMLMaxRows: 100}, wideRun(), wide[:400], summarize(wideRun(), wide[:400], false, "interrupted (SIGTERM) after 400 users")),
		writeHTMLReport(t, dir, "empty.html", Options{}, run, nil, summarize(run, nil, false, "interrupted before the first answer")),
	}
	axetest.Check(t, files...)
}

// TestHTMLPrintsWhole prints a wide report (1,200 users, five extra
// columns: some 50 pages; kept at that for the CI budget) with Chromium, browser header and footer off, and reads the PDF
// back page by page: every page is footed with the run id and page N of M,
// and every page of the non-compliant and issues tables has their header
// row and a value of every column; every manager e-mail (the widest value)
// is printed whole.
func TestHTMLPrintsWhole(t *testing.T) {
	chrome := lookTool(t, "chromium", "chromium", "chromium-browser")
	pdftotext := lookTool(t, "poppler-utils", "pdftotext")
	run := wideRun()
	results := wideResults(1200)
	s := summarize(run, results, true, "")
	dir := t.TempDir()
	page := writeHTMLReport(t, dir, "wide.html", Options{}, run, results, s)
	pdf := filepath.Join(dir, "wide.pdf")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --print-to-pdf: %v\n%s", err, msg)
	}
	keepPrint(t, pdf)
	pages := pdfPages(t, pdftotext, pdf)

	tablePages := 0
	for i, p := range pages {
		n := i + 1
		if !strings.Contains(p, "mfa-audit run "+run.RunID) || !strings.Contains(p, fmt.Sprintf("page %d of %d", n, len(pages))) {
			t.Errorf("page %d of %d is not footed with the run id and page %d of %d:\n%s", n, len(pages), n, len(pages), lastLines(p, 3))
		}
		if !wideIDRE.MatchString(p) {
			continue
		}
		tablePages++
		// The header row repeated, and a value of every column.
		flat := strings.Join(strings.Fields(p), " ")
		for _, want := range []string{"User", "location", "department", "employee_", "desk_", "cost_", "manager_",
			"user_id", "EMP-", "+86 21", "CC-", "@corp.example", "Loc-"} {
			if !strings.Contains(flat, want) {
				t.Errorf("table page %d lacks %q: a column or the header row is cut", n, want)
			}
		}
	}
	all := strings.Join(strings.Fields(strings.Join(pages, "")), "")
	for _, r := range results {
		if r.Compliant == nil || *r.Compliant {
			continue
		}
		m, _ := r.Attrs.Get("manager_email")
		loc, _ := r.Attrs.Get("location")
		if !strings.Contains(all, r.UserID) || !strings.Contains(all, m) || !strings.Contains(all, loc) {
			t.Errorf("non-compliant %s (%s, %s) is not printed whole", r.UserID, m, loc)
			break
		}
	}
	if tablePages == 0 {
		t.Fatal("no page shows the tables")
	}
	t.Logf("%d pages, %d with table rows", len(pages), tablePages)
}

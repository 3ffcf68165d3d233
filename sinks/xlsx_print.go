package sinks

import (
	"errors"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Print setup of the workbook (SPEC 7, "Print"). excelize writes a streamed
// sheet's page setup when the stream starts: these must be called BEFORE
// NewStreamWriter for the sheet; set after Flush they are dropped silently.

// printListSheet makes a list sheet (Users, Users (2)..., Issues, Changes,
// Exceptions ...) print whole: A4 landscape, every column on one page wide
// and as many pages down as needed (FitToPage, without which the fit is
// ignored), the header row repeated on every page (print titles) and a
// footer with the run id and "page N of M". Every sheet of one row per
// subject uses it; startStream calls it for the sheets it starts.
func printListSheet(f *excelize.File, sheet, runID string) error {
	return errors.Join(
		f.SetPageLayout(sheet, &excelize.PageLayoutOptions{
			Size:        ptr(9), // A4
			Orientation: ptr("landscape"),
			FitToWidth:  ptr(1),
			FitToHeight: ptr(0), // as many pages down as needed
		}),
		f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: ptr(true)}),
		f.SetPageMargins(sheet, &excelize.PageLayoutMarginsOptions{
			Left: ptr(0.4), Right: ptr(0.4), Top: ptr(0.5), Bottom: ptr(0.6), Footer: ptr(0.25), Header: ptr(0.25),
		}),
		f.SetHeaderFooter(sheet, printFooter(runID)),
		f.SetDefinedName(&excelize.DefinedName{
			Name:     "_xlnm.Print_Titles",
			RefersTo: quoteSheet(sheet) + "!$1:$1",
			Scope:    sheet,
		}),
	)
}

// printPageSheet makes a sheet that reads like a page (Summary, Run) print
// one page wide, landscape, with the same footer; it has no grid lines.
func printPageSheet(f *excelize.File, sheet, runID string) error {
	return errors.Join(
		f.SetSheetView(sheet, 0, &excelize.ViewOptions{ShowGridLines: ptr(false)}),
		f.SetPageLayout(sheet, &excelize.PageLayoutOptions{
			Size:        ptr(9), // A4
			Orientation: ptr("landscape"),
			FitToWidth:  ptr(1),
			FitToHeight: ptr(0),
		}),
		f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: ptr(true)}),
		f.SetHeaderFooter(sheet, printFooter(runID)),
	)
}

// printFooter is the footer of every printed page: the run id on the left,
// "page N of M" on the right (&P and &N; a literal & is doubled).
func printFooter(runID string) *excelize.HeaderFooterOptions {
	run := "mfa-audit run " + strings.ReplaceAll(runID, "&", "&&")
	return &excelize.HeaderFooterOptions{
		OddFooter: "&L&8" + run + "&R&8page &P of &N",
	}
}

// quoteSheet quotes a sheet name for a reference: 'Users (2)'.
func quoteSheet(name string) string {
	return "'" + strings.ReplaceAll(name, "'", "''") + "'"
}

// setDocProps sets the workbook's document properties: title, creator
// "mfa-audit <version>", created = the run's start (the data's "as of"),
// modified = its end when known.
func setDocProps(f *excelize.File, run *pipeline.RunInfo, finished time.Time) error {
	creator := strings.TrimSpace("mfa-audit " + run.Version)
	p := &excelize.DocProperties{
		Title:          "MFA coverage audit",
		Subject:        "Multi-factor authentication coverage of a GenAuth user pool",
		Creator:        creator,
		LastModifiedBy: creator,
		Description:    "Run " + run.RunID,
		Identifier:     run.RunID,
		Keywords:       "mfa-audit, MFA, GenAuth",
	}
	if !run.StartedAt.IsZero() {
		p.Created = run.StartedAt.UTC().Format(time.RFC3339)
		p.Modified = p.Created
	}
	if !finished.IsZero() {
		p.Modified = finished.UTC().Format(time.RFC3339)
	}
	return f.SetDocProps(p)
}

package sinks

import (
	"slices"
	"strings"
)

// Output kinds, as Options.Outputs names them.
const (
	KindXLSX     = "xlsx"
	KindHTML     = "html"
	KindCSV      = "csv"
	KindJSONL    = "jsonl"
	KindPostgres = "postgres"
)

// elsewhere says where the rows the HTML report leaves out can be found,
// naming only outputs this run writes (Options.Outputs): sheet is the
// workbook sheet that lists them ("Users", "Issues").
func elsewhere(outputs []string, sheet string) string {
	var places []string
	if slices.Contains(outputs, KindXLSX) {
		places = append(places, "the XLSX workbook ("+sheet+" sheet)")
	}
	if slices.Contains(outputs, KindCSV) {
		places = append(places, "the CSV output")
	}
	if len(places) == 0 {
		if slices.Contains(outputs, KindJSONL) {
			places = append(places, "the JSON Lines output")
		}
		if slices.Contains(outputs, KindPostgres) {
			places = append(places, "the Postgres results table")
		}
	}
	if len(places) == 0 {
		return "This run wrote no other report that lists them: add an .xlsx or .csv file to AUDIT_OUTPUT, or raise AUDIT_HTML_MAX_ROWS."
	}
	return "All of them are in " + strings.Join(places, " and ") + " of this run."
}

// groupsElsewhere says where the groups the HTML report leaves out are.
func groupsElsewhere(outputs []string) string {
	if slices.Contains(outputs, KindXLSX) {
		return "listed on the Summary sheet of the XLSX workbook."
	}
	return "not listed in this run's outputs: add an .xlsx file to AUDIT_OUTPUT for the whole table."
}

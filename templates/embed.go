// Package templates holds the files the reports are rendered from, embedded
// in the binary so that a report needs nothing from the file system at run
// time: the HTML report template and its style sheet, which the HTML sink
// inlines into one self-contained page.
package templates

import "embed"

// FS holds the report templates.
//
//go:embed report.html.tmpl report.css sections/*.tmpl
var FS embed.FS

// Names of the files in FS.
const (
	// ReportHTML is the html/template source of the HTML report. It
	// expects the style sheet as the template "css" (see ReportCSS).
	ReportHTML = "report.html.tmpl"
	// ReportCSS is the style sheet inlined into the report's <style>
	// element (screen and print rules).
	ReportCSS = "report.css"
	// Sections is the pattern of the report's section templates: each
	// file defines one or more {{define "name"}} blocks that ReportHTML
	// places with {{template "name" .}}. A new section is a new file and
	// one line in ReportHTML.
	Sections = "sections/*.tmpl"
	// ExceptionsHTML defines the report's exceptions-register blocks
	// ("exceptions-tile", "exceptions-rows", "exceptions"), one of the
	// Sections.
	ExceptionsHTML = "sections/exceptions.tmpl"
)

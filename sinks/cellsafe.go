// Package sinks writes results as they stream: CSV, JSON Lines, XLSX, HTML
// and Postgres. Every sink implements pipeline.Sink.
package sinks

import "strings"

// SafeCell returns s so that no spreadsheet evaluates it as a formula: a
// value starting with '=', '+', '-', '@', a tab or a carriage return gets a
// leading apostrophe (the OWASP CSV-injection advice). Other values are
// returned unchanged. Used for CSV and XLSX text cells.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	// Full-width equals and plus signs are read as formulas by some programs.
	if strings.HasPrefix(s, "＝") || strings.HasPrefix(s, "＋") {
		return "'" + s
	}
	return s
}

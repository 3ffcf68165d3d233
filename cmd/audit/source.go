package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sources"
)

// checkSourceFormat checks AUDIT_SOURCE_ENCODING and AUDIT_CSV_DELIMITER,
// reporting through bad (as Config.resolve does).
func checkSourceFormat(c *Config, bad func(name, format string, a ...any)) {
	if _, err := sources.LookupEncoding(c.SourceEncoding); err != nil {
		bad("AUDIT_SOURCE_ENCODING", "%s", strings.TrimPrefix(err.Error(), "AUDIT_SOURCE_ENCODING "))
	}
	if _, err := sources.ParseDelimiter(c.CSVDelimiter); err != nil {
		bad("AUDIT_CSV_DELIMITER", "%s", strings.TrimPrefix(err.Error(), "AUDIT_CSV_DELIMITER "))
	}
}

// openFileSource opens a CSV file, stdin ("-") or an .xlsx workbook
// (FILE.xlsx or FILE.xlsx#Sheet) named by AUDIT_SOURCE.
func openFileSource(cfg *Config, stdin io.Reader) (pipeline.Source, error) {
	opt := sources.CSVOptions{
		Stdin: stdin, IDColumn: cfg.IDColumn, IDTypeColumn: cfg.IDTypeColumn, DefaultIDType: cfg.IDType,
		Delimiter: cfg.CSVDelimiter, Encoding: cfg.SourceEncoding,
	}
	var (
		src pipeline.Source
		err error
	)
	if sources.IsXLSX(cfg.Source) {
		src, err = sources.OpenXLSX(cfg.Source, opt)
	} else {
		src, err = sources.OpenCSV(cfg.Source, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("AUDIT_SOURCE: %w", err)
	}
	return src, nil
}

// checkSource waits for a source's pre-scan where it has one (a CSV file:
// bytes that are not valid in its encoding), so that such a file is a
// configuration error before any API call.
func checkSource(ctx context.Context, src pipeline.Source) error {
	c, ok := src.(interface{ Check(context.Context) error })
	if !ok {
		return nil
	}
	if err := c.Check(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("AUDIT_SOURCE: %w", err)
	}
	return nil // interrupted: the run notices ctx itself
}

// sourceLayout is what the start log line says of how the source is read:
// the id column, the id-type column or the default type, and a file's
// delimiter and encoding or sheet.
func sourceLayout(src pipeline.Source) []any {
	if l, ok := src.(interface{ Layout() sources.Layout }); ok {
		return l.Layout().LogAttrs()
	}
	return nil
}

package sinks

import (
	"fmt"
	"math"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// SheetTrend shows coverage and completeness of the latest complete runs of
// the same source (SPEC 13), with a line chart; only with a history.
const SheetTrend = "Trend"

// writeTrendSheet fills the Trend sheet (created by finish): one row per
// run, oldest first, and a line chart of both shares.
func writeTrendSheet(f *excelize.File, st *xlsxStyles, s *pipeline.Summary) error {
	w := &sheetWriter{f: f, sheet: SheetTrend}
	w.widths(30, 22, 14, 14)
	for i, h := range []string{"run_id", "data_as_of", "coverage", "completeness"} {
		w.set(i+1, 1, h, st.header)
	}
	for i, p := range s.Trend {
		row := i + 2
		w.set(1, row, p.RunID, 0)
		w.set(2, row, timeOrNil(p.DataAsOf), st.datetime)
		for j, v := range []float64{p.Coverage, p.Completeness} {
			var val any = pipeline.NA
			if !math.IsNaN(v) {
				val = v
			}
			w.set(3+j, row, val, st.percent)
		}
	}
	if w.err != nil {
		return w.err
	}
	last := len(s.Trend) + 1
	if err := f.SetPanes(SheetTrend, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := f.AutoFilter(SheetTrend, fmt.Sprintf("A1:D%d", last), nil); err != nil {
		return err
	}
	if err := f.AddChart(SheetTrend, "F2", &excelize.Chart{
		Type: excelize.Line,
		Series: []excelize.ChartSeries{
			{
				Name:       fmt.Sprintf("'%s'!$C$1", SheetTrend),
				Categories: fmt.Sprintf("'%s'!$B$2:$B$%d", SheetTrend, last),
				Values:     fmt.Sprintf("'%s'!$C$2:$C$%d", SheetTrend, last),
				Line:       excelize.LineOptions{Width: 2.25},
				Marker:     excelize.ChartMarker{Symbol: "circle", Size: 6},
			},
			{
				Name:       fmt.Sprintf("'%s'!$D$1", SheetTrend),
				Categories: fmt.Sprintf("'%s'!$B$2:$B$%d", SheetTrend, last),
				Values:     fmt.Sprintf("'%s'!$D$2:$D$%d", SheetTrend, last),
				Line:       excelize.LineOptions{Width: 2.25},
				Marker:     excelize.ChartMarker{Symbol: "square", Size: 6},
			},
		},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Coverage and completeness, latest complete runs"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 640, Height: 360},
		XAxis:     excelize.ChartAxis{Font: excelize.Font{Color: "404040", Size: 9}, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "yyyy-mm-dd"}},
		YAxis:     shareAxis(),
	}); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return printPageSheet(f, SheetTrend, s.Run.RunID)
}

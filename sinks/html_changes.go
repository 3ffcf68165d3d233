package sinks

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// htmlOldestGaps is how many of the oldest open gaps the HTML report lists.
const htmlOldestGaps = 25

// htmlChanges keeps what the HTML report's "Since <date>" section lists
// while results stream: the first new gaps (capped like the non-compliant
// list) and the oldest open gaps (a bounded, sorted list).
type htmlChanges struct {
	newGaps     []htmlChangeRow
	moreNewGaps int64
	oldest      []htmlChangeRow // by Since, then input order; at most htmlOldestGaps
	seq         int64
}

// htmlChangeRow is a user of the changes section.
type htmlChangeRow struct {
	htmlRow
	Before string // MFA level in the baseline
	Since  string // non_compliant_since
	Days   int64  // days the gap has been open, to the run's start
	since  time.Time
	seq    int64
}

// noteChange keeps r for the changes section when it is a new gap or an
// open gap old enough.
func (h *HTML) noteChange(r *pipeline.Result) {
	c := &h.changes
	c.seq++
	if r.Change == pipeline.ChangeNewGap {
		if len(c.newGaps) >= h.max {
			c.moreNewGaps++
		} else {
			c.newGaps = append(c.newGaps, h.changeRow(r, c.seq))
		}
	}
	if r.NonCompliantSince.IsZero() {
		return
	}
	if len(c.oldest) == htmlOldestGaps && !r.NonCompliantSince.Before(c.oldest[len(c.oldest)-1].since) {
		return // not older than the youngest kept; ties keep input order
	}
	i := sort.Search(len(c.oldest), func(i int) bool { return c.oldest[i].since.After(r.NonCompliantSince) })
	row := h.changeRow(r, c.seq)
	if len(c.oldest) < htmlOldestGaps {
		c.oldest = append(c.oldest, htmlChangeRow{})
	}
	copy(c.oldest[i+1:], c.oldest[i:len(c.oldest)-1])
	c.oldest[i] = row
}

func (h *HTML) changeRow(r *pipeline.Result, seq int64) htmlChangeRow {
	row := htmlChangeRow{htmlRow: h.row(r), Before: r.BaselineMFA, since: r.NonCompliantSince, seq: seq}
	if !r.NonCompliantSince.IsZero() {
		row.Since = r.NonCompliantSince.UTC().Format("2006-01-02")
	}
	return row
}

// htmlSince is the "Since <date>" section.
type htmlSince struct {
	Title       string
	Baseline    string
	AsOf        string
	Incomplete  string // why the baseline is incomplete
	Recorded    bool   // classes as stored, baseline unknown
	Then, Now   string
	Points      string
	Classes     []htmlClass
	NewGaps     []htmlChangeRow
	NewGapCount int64
	MoreNewGaps int64
	Oldest      []htmlChangeRow
	OpenGaps    int64
	MaxRows     int
	AttrNames   []string
}

type htmlClass struct {
	Name, Meaning string
	Count         int64
	Finding       bool // a change for the worse
}

// since builds the changes section; nil without a baseline.
func (h *HTML) since(run pipeline.RunInfo, s *pipeline.Summary) *htmlSince {
	c := s.Changes
	if c == nil {
		return nil
	}
	d := &htmlSince{
		Title: "Since the baseline", Recorded: c.Recorded,
		Then: c.Then.CoverageShare().String(), Now: s.CoverageShare().String(), Points: c.PointsText(s.Counts),
		NewGaps: h.changes.newGaps, NewGapCount: c.Count(pipeline.ChangeNewGap), MoreNewGaps: h.changes.moreNewGaps,
		Oldest: h.changes.oldest, OpenGaps: s.NonCompliant, MaxRows: h.max, AttrNames: run.AttrNames,
	}
	if !c.Recorded {
		d.Baseline = redactValue(cut(c.Baseline.Name()))
		d.AsOf = formatTime(c.Baseline.DataAsOf)
		if !c.Baseline.DataAsOf.IsZero() {
			d.Title = "Since " + c.Baseline.DataAsOf.UTC().Format("2 January 2006")
		}
		if !c.Baseline.Complete {
			d.Incomplete = cut(c.Baseline.Incomplete)
			if d.Incomplete == "" {
				d.Incomplete = "it did not finish"
			}
		}
	}
	ref := run.StartedAt
	if ref.IsZero() {
		ref = s.FinishedAt
	}
	for i := range d.Oldest {
		if !ref.IsZero() {
			d.Oldest[i].Days = int64(pipeline.Day(ref).Sub(d.Oldest[i].since) / (24 * time.Hour))
		}
	}
	for _, class := range pipeline.ChangeClasses {
		if class == pipeline.ChangeLeft && c.Recorded {
			continue
		}
		d.Classes = append(d.Classes, htmlClass{
			Name: string(class), Meaning: ChangeMeaning(class), Count: c.Count(class),
			Finding: class == pipeline.ChangeNewGap || class == pipeline.ChangeWeakened,
		})
	}
	return d
}

// lineChart is the geometry of the trend chart: coverage and completeness
// of the latest complete runs of the same source, as inline SVG.
type lineChart struct {
	Width, Height int
	Left, Right   int // plot area, x
	Top, Bottom   int // plot area, y
	LabelX        int // right edge of the y-axis labels
	TickY         int // baseline of the x-axis labels
	LegendX1      int // legend line, from
	LegendX2      int // to
	LegendTextX   int
	Grid          []gridLine
	Series        []lineSeries
	Ticks         []xTick
	Desc          string
	Points        []pipeline.TrendPoint
	Rows          []trendRow // the same figures as a table
}

type gridLine struct {
	Y, TextY int
	Label    string
}

type lineSeries struct {
	Name, Class string
	Path        string // polyline points "x,y x,y"
	Dots        []dot
	LegendY     int
	LegendTextY int
}

type dot struct{ X, Y float64 }

type xTick struct {
	X     float64
	Label string
}

type trendRow struct {
	RunID, AsOf, Coverage, Completeness string
}

// newTrendChart lays out the trend; nil for no points.
func newTrendChart(points []pipeline.TrendPoint) *lineChart {
	if len(points) == 0 {
		return nil
	}
	ch := &lineChart{Width: 900, Height: 300, Left: 60, Right: 720, Top: 16, Bottom: 250, Points: points}
	ch.LabelX, ch.TickY = ch.Left-8, ch.Bottom+22
	ch.LegendX1, ch.LegendX2, ch.LegendTextX = ch.Right+24, ch.Right+52, ch.Right+60
	yOf := func(f float64) float64 {
		return round1(float64(ch.Bottom) - f*float64(ch.Bottom-ch.Top))
	}
	for p := 0; p <= 100; p += 25 {
		y := int(yOf(float64(p) / 100))
		ch.Grid = append(ch.Grid, gridLine{Y: y, TextY: y + 4, Label: fmt.Sprintf("%d%%", p)})
	}
	xOf := func(i int) float64 {
		if len(points) == 1 {
			return float64(ch.Left+ch.Right) / 2
		}
		return round1(float64(ch.Left) + float64(i)*float64(ch.Right-ch.Left)/float64(len(points)-1))
	}
	cov := lineSeries{Name: "Coverage", Class: "coverage", LegendY: 40, LegendTextY: 45}
	comp := lineSeries{Name: "Completeness", Class: "completeness", LegendY: 66, LegendTextY: 71}
	var desc []string
	for i, p := range points {
		x := xOf(i)
		ch.Ticks = append(ch.Ticks, xTick{X: x, Label: p.DataAsOf.UTC().Format("2006-01-02")})
		for _, sv := range []struct {
			s *lineSeries
			v float64
		}{{&cov, p.Coverage}, {&comp, p.Completeness}} {
			if math.IsNaN(sv.v) {
				continue
			}
			y := yOf(sv.v)
			sv.s.Dots = append(sv.s.Dots, dot{X: x, Y: y})
			sv.s.Path += fmt.Sprintf("%g,%g ", x, y)
		}
		row := trendRow{RunID: cut(p.RunID), AsOf: formatTime(p.DataAsOf), Coverage: fractionText(p.Coverage), Completeness: fractionText(p.Completeness)}
		ch.Rows = append(ch.Rows, row)
		desc = append(desc, fmt.Sprintf("%s: coverage %s, completeness %s", row.AsOf, row.Coverage, row.Completeness))
	}
	cov.Path, comp.Path = strings.TrimSpace(cov.Path), strings.TrimSpace(comp.Path)
	ch.Series = []lineSeries{cov, comp}
	ch.Desc = "Coverage and completeness of the latest complete runs of this source, oldest first. " + strings.Join(desc, "; ") + "."
	return ch
}

// fractionText shows a stored shown-share (a fraction with one decimal of
// a percent): "76.8%", or n/a for NaN.
func fractionText(f float64) string {
	if math.IsNaN(f) {
		return pipeline.NA
	}
	return fmt.Sprintf("%.1f%%", f*100)
}

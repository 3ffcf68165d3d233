package sinks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// barChart is the geometry of the horizontal bar chart in the HTML report:
// MFA strength (strong / weak / none) and the factors bound, each as a share
// of the answered users. The template draws it as inline SVG; all text in it
// is fixed labels and numbers. It comes in two drawings: "wide" (labels left
// of the bars, 900 units wide, shown at full size on a wide screen and in
// print) and "narrow" (labels above the bars, 320 units wide, for a phone:
// shown at about its own size, its 13-unit labels never fall below 11 px).
type barChart struct {
	Variant       string // wide or narrow: the CSS class and the ids
	Width, Height int
	LabelX        int    // x of the labels
	LabelAnchor   string // text-anchor of the labels: end (wide), start (narrow)
	BarX          int    // left edge of the bars
	BarMax        int    // width of a 100 % bar
	BarH          int    // height of a bar
	Groups        []barGroup
	// Desc is the chart in words, for screen readers (<desc>).
	Desc string
}

type barGroup struct {
	Title  string
	TitleY int
	Bars   []bar
}

type bar struct {
	Label  string
	Class  string // CSS class of the bar: strong, weak, none, factor
	Count  int64
	Share  pipeline.Share
	Y      int     // top of the bar
	LabelY int     // baseline of the label
	TextY  int     // baseline of the value
	W      float64 // bar width in px
	Text   string  // value label: "52.3% · 1,234"
	TextX  float64 // x of the value label
}

const (
	chartWidth       = 900
	chartLabelW      = 210
	chartBarH        = 22
	chartGap         = 8
	chartTitleH      = 28
	chartValueW      = 140 // room right of a full bar for its value label
	chartPadding     = 4
	chartNarrowWidth = 320
	chartNarrowBarH  = 16
	chartNarrowValue = 118
	chartNarrowLabel = 18 // height of a label line above its bar
)

// newBarChart lays out the wide chart for c.
func newBarChart(c pipeline.Counts) barChart {
	return layoutBarChart(c, false)
}

// newBarChartNarrow lays out the narrow chart for c.
func newBarChartNarrow(c pipeline.Counts) barChart {
	return layoutBarChart(c, true)
}

func layoutBarChart(c pipeline.Counts, narrow bool) barChart {
	ch := barChart{
		Variant:     "wide",
		Width:       chartWidth,
		LabelX:      chartLabelW - 10,
		LabelAnchor: "end",
		BarX:        chartLabelW,
		BarMax:      chartWidth - chartLabelW - chartValueW,
		BarH:        chartBarH,
	}
	if narrow {
		ch = barChart{
			Variant:     "narrow",
			Width:       chartNarrowWidth,
			LabelX:      0,
			LabelAnchor: "start",
			BarX:        0,
			BarMax:      chartNarrowWidth - chartNarrowValue,
			BarH:        chartNarrowBarH,
		}
	}
	groups := []struct {
		title string
		bars  []bar
	}{
		{"MFA strength (share of checked users)", []bar{
			{Label: "Strong (TOTP or face)", Class: "strong", Count: c.Strong},
			{Label: "Weak (SMS or e-mail only)", Class: "weak", Count: c.Weak},
			{Label: "None", Class: "none", Count: c.None},
		}},
		{"Factors bound (share of checked users)", []bar{
			{Label: "TOTP app", Class: "factor", Count: c.TOTP},
			{Label: "Face", Class: "factor", Count: c.Face},
			{Label: "SMS", Class: "factor", Count: c.SMS},
			{Label: "E-mail", Class: "factor", Count: c.Email},
		}},
	}
	if narrow {
		groups[0].title = "MFA strength (share of checked)"
		groups[1].title = "Factors bound (share of checked)"
	}
	y := chartPadding
	var desc []string
	for _, g := range groups {
		bg := barGroup{Title: g.title, TitleY: y + 18}
		y += chartTitleH
		var parts []string
		for _, b := range g.bars {
			b.Share = c.ShareOf(b.Count)
			frac, _ := b.Share.Fraction()
			if narrow {
				b.LabelY = y + 13
				y += chartNarrowLabel
			}
			b.Y = y
			b.TextY = y + ch.BarH/2 + 5
			if !narrow {
				b.LabelY = b.TextY
			}
			b.W = round1(frac * float64(ch.BarMax))
			if b.Count > 0 && b.W < 2 {
				b.W = 2 // a non-zero share stays visible
			}
			b.Text = b.Share.String() + " · " + formatCount(b.Count)
			b.TextX = round1(float64(ch.BarX) + b.W + 8)
			bg.Bars = append(bg.Bars, b)
			parts = append(parts, fmt.Sprintf("%s %s (%s users)", b.Label, b.Share.String(), formatCount(b.Count)))
			y += ch.BarH + chartGap
		}
		ch.Groups = append(ch.Groups, bg)
		desc = append(desc, g.title+": "+strings.Join(parts, ", ")+".")
		y += chartGap
	}
	ch.Height = y
	ch.Desc = strings.Join(desc, " ")
	return ch
}

func round1(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 1, 64), 64)
	return v
}

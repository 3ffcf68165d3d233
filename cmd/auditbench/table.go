package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"
)

// Results of a row.
const (
	resPass  = "PASS"
	resFail  = "FAIL"
	resInfo  = "info"
	resSkip  = "SKIP"
	resError = "ERROR"
)

// row is one line of the table.
type row struct {
	Scenario string
	Params   string
	Measured string
	Target   string
	Result   string
}

// table is the benchmark report: a title, header lines (machine, date,
// load), the rows and free-text notes.
type table struct {
	Title  string
	Header []string
	Rows   []row
	Notes  []string
}

func (t *table) add(r row) { t.Rows = append(t.Rows, r) }

// failed reports whether any row failed its target or errored.
func (t *table) failed() bool {
	for _, r := range t.Rows {
		if r.Result == resFail || r.Result == resError {
			return true
		}
	}
	return false
}

var columns = []string{"Scenario", "Parameters", "Measured", "Target", "Result"}

func (r row) cells() []string {
	return []string{r.Scenario, r.Params, r.Measured, r.Target, r.Result}
}

// writeText writes the table with aligned columns, for a terminal.
func (t *table) writeText(w io.Writer) {
	width := make([]int, len(columns))
	for i, c := range columns {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.Rows {
		for i, c := range r.cells() {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	if t.Title != "" {
		fmt.Fprintln(w, t.Title)
	}
	for _, h := range t.Header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, line(columns))
	seps := make([]string, len(columns))
	for i := range columns {
		seps[i] = strings.Repeat("-", width[i])
	}
	fmt.Fprintln(w, line(seps))
	for _, r := range t.Rows {
		fmt.Fprintln(w, line(r.cells()))
	}
	if len(t.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.Notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

// writeMarkdown writes the table as GitHub-flavoured Markdown.
func (t *table) writeMarkdown(w io.Writer) {
	if t.Title != "" {
		fmt.Fprintln(w, "# "+t.Title)
		fmt.Fprintln(w)
	}
	for _, h := range t.Header {
		fmt.Fprintln(w, "- "+h)
	}
	if len(t.Header) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| "+strings.Join(columns, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat(" --- |", len(columns)))
	for _, r := range t.Rows {
		cells := r.cells()
		for i, c := range cells {
			cells[i] = mdEscape(c)
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	if len(t.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.Notes {
			fmt.Fprintln(w, "- "+mdEscape(n))
		}
	}
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// machineInfo describes the machine and the date.
func machineInfo(now time.Time) []string {
	model, mem := "unknown CPU", "unknown"
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		model = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kib int64
		if _, err := fmt.Sscanf(v, "%d", &kib); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return []string{
		"date: " + now.UTC().Format(time.RFC3339),
		fmt.Sprintf("machine: %d CPUs (nproc), %s, %s RAM, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH),
		"go: " + runtime.Version(),
	}
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}

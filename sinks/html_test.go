package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

type htmlCase struct {
	name     string
	n        int
	keep     func(r pipeline.Result) bool
	complete bool
	reason   string
	opt      Options
	run      func(*pipeline.RunInfo)
}

var htmlCases = []htmlCase{
	{
		name: "complete", n: 40, complete: true,
		keep: func(r pipeline.Result) bool { return r.Outcome != pipeline.OutcomeError },
	},
	{
		name: "unknown-capped", n: 60, complete: true, opt: Options{HTMLMaxRows: 4, Outputs: []string{KindXLSX, KindHTML, KindCSV}},
	},
	{
		name: "incomplete-masked", n: 30, complete: false,
		reason: "interrupted (SIGTERM) after 30 of 1,000 users",
		opt:    Options{MaskPII: true},
	},
	{
		name: "empty-no-groups", n: 0, complete: true,
		run: func(r *pipeline.RunInfo) { r.GroupBy, r.AttrNames, r.Policy = "", nil, pipeline.PolicyStrong },
	},
}

func (c htmlCase) inputs() (pipeline.RunInfo, []pipeline.Result, pipeline.Summary) {
	run := reportRun()
	if c.run != nil {
		c.run(&run)
	}
	var results []pipeline.Result
	for _, r := range reportResults(c.n) {
		if c.keep == nil || c.keep(r) {
			if run.AttrNames == nil {
				r.Attrs = nil
			}
			results = append(results, r)
		}
	}
	return run, results, summarize(run, results, c.complete, c.reason)
}

func writeHTMLCase(t *testing.T, c htmlCase) []byte {
	t.Helper()
	run, results, s := c.inputs()
	path := tempPath(t, "report.html")
	sink, err := NewHTML(path, c.opt)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, sink, run, results, s)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(path + ".incomplete")
	if c.complete != errors.Is(err, os.ErrNotExist) {
		t.Errorf("incomplete marker exists = %v, want %v", err == nil, !c.complete)
	}
	return b
}

func TestHTMLGolden(t *testing.T) {
	for _, c := range htmlCases {
		t.Run(c.name, func(t *testing.T) {
			got := writeHTMLCase(t, c)
			golden := filepath.Join("..", "testdata", "html", c.name, "report.golden.html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sinks -run TestHTMLGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report differs from %s (rerun with -update if the change is intended):\n%s", golden, firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return "(same lines, different bytes)"
}

// parseHTML parses a report and returns its text content and the problems
// an inert, self-contained page must not have: script, active attributes,
// and references to anything but data: URLs and fragments.
func inspectHTML(t *testing.T, b []byte) (text string, problems []string) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "iframe", "object", "embed", "link", "base", "form", "input", "audio", "video", "source":
				if !(n.Data == "link" && attr(n, "rel") == "icon" && attr(n, "href") == "data:,") {
					problems = append(problems, "element <"+n.Data+">")
				}
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") {
					problems = append(problems, "event handler attribute "+a.Key+"="+a.Val)
				}
				if k == "src" || k == "href" || k == "xlink:href" || k == "action" || k == "srcset" || k == "poster" {
					if !strings.HasPrefix(a.Val, "data:") && !strings.HasPrefix(a.Val, "#") {
						problems = append(problems, fmt.Sprintf("external reference %s=%q", a.Key, a.Val))
					}
				}
				if k == "style" && strings.Contains(strings.ToLower(a.Val), "url(") {
					problems = append(problems, "url() in style attribute")
				}
			}
			if n.Data == "style" && n.FirstChild != nil {
				css := strings.ToLower(n.FirstChild.Data)
				if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
					problems = append(problems, "url() or @import in the style sheet")
				}
			}
		}
		if n.Type == html.TextNode && (n.Parent == nil || n.Parent.Data != "style") {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return sb.String(), problems
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestHTMLPayloadsInert puts script and markup payloads in every field that
// reaches the report and checks that they come out as text.
func TestHTMLPayloadsInert(t *testing.T) {
	run := reportRun()
	run.RunID = `<script>alert("run")</script>`
	run.Source = `"><img src=x onerror=alert(1)>`
	run.Hostname = `</style><script>alert(2)</script>`
	run.Version = `javascript:alert(3)`
	run.GroupBy = `<b onmouseover=alert(4)>dept</b>`
	run.AttrNames = []string{`<script>alert(5)</script>`, "department"}
	run.Config["AUDIT_SOURCE"] = `<iframe src="http://evil.example/">`
	var results []pipeline.Result
	for i, p := range hostilePayloads {
		for _, o := range []pipeline.Outcome{pipeline.OutcomeOK, pipeline.OutcomeError, pipeline.OutcomeNotFound} {
			r := pipeline.Result{
				UserID: p, IDType: p, Outcome: o, TOTP: bp(false), Face: bp(false), SMS: bp(false), Email: bp(false),
				Attrs: pipeline.Attrs{{Key: run.AttrNames[0], Value: p}, {Key: run.GroupBy, Value: p}},
				Error: p, APICode: p, RequestID: p, Attempts: i, CheckedAt: reportStart,
			}
			r.Classify(pipeline.PolicyAny)
			results = append(results, r)
		}
	}
	s := summarize(run, results, false, `<script>alert("reason")</script>`)
	s.Run.GroupBy = run.GroupBy
	path := tempPath(t, "r.html")
	sink, _ := NewHTML(path, Options{})
	writeAll(t, sink, run, results, s)
	b, _ := os.ReadFile(path)

	text, problems := inspectHTML(t, b)
	for _, p := range problems {
		t.Errorf("report is not inert: %s", p)
	}
	if bytes.Contains(bytes.ToLower(b), []byte("<script")) {
		t.Errorf("report contains a raw <script")
	}
	if bytes.Contains(b, []byte("must-never-appear")) || bytes.Contains(b, []byte("hunter2")) {
		t.Errorf("report shows a secret")
	}
	// Each payload is still readable, as text.
	for _, p := range []string{`<script>alert("x")</script>`, `"><img src=x onerror=alert(1)>`, `<script>alert("reason")</script>`, `<b onmouseover=alert(4)>dept</b>`} {
		if !strings.Contains(text, p) {
			t.Errorf("payload %q not shown as text", p)
		}
	}
}

func TestHTMLRowCap(t *testing.T) {
	run := reportRun()
	results := reportResults(1000) // 200 non-compliant, 300 issues
	s := summarize(run, results, true, "")
	path := tempPath(t, "r.html")
	sink, _ := NewHTML(path, Options{HTMLMaxRows: 50, Outputs: []string{KindXLSX, KindHTML}})
	writeAll(t, sink, run, results, s)
	b, _ := os.ReadFile(path)
	text, _ := inspectHTML(t, b)
	text = strings.Join(strings.Fields(text), " ")

	for _, want := range []string{
		"… and 150 more non-compliant users, not shown here: this report lists the first 50. All of them are in the XLSX workbook",
		"… and 250 more issues, not shown here: this report lists the first 50.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q", want)
		}
	}
	doc, _ := html.Parse(bytes.NewReader(b))
	for _, sec := range []string{"noncompliant", "issues"} {
		if n := countRows(doc, sec); n != 50 {
			t.Errorf("%s table has %d rows, want 50", sec, n)
		}
	}
}

// countRows counts the body rows of the table in <section class=class>.
func countRows(n *html.Node, class string) int {
	if n.Type == html.ElementNode && n.Data == "section" && slices.Contains(strings.Fields(attr(n, "class")), class) {
		c := 0
		var walk func(*html.Node)
		walk = func(m *html.Node) {
			if m.Type == html.ElementNode && m.Data == "tr" && m.Parent != nil && m.Parent.Data == "tbody" {
				c++
			}
			for k := m.FirstChild; k != nil; k = k.NextSibling {
				walk(k)
			}
		}
		walk(n)
		return c
	}
	for k := n.FirstChild; k != nil; k = k.NextSibling {
		if c := countRows(k, class); c >= 0 {
			return c
		}
	}
	return -1
}

func TestHTMLIncompleteBanner(t *testing.T) {
	for _, c := range []struct {
		name     string
		complete bool
		reason   string
		errors   bool
		want     string
	}{
		{"interrupted", false, "interrupted (SIGTERM)", false, "INTERRUPTED (SIGTERM) — no figure is final"},
		{"no reason", false, "", false, "INTERRUPTED: the run did not finish — no figure is final"},
		{"unknowns", true, "", true, "is unknown — coverage is not final"},
		{"complete", true, "", false, "Complete run: every user has a final outcome"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := reportRun()
			var results []pipeline.Result
			for _, r := range reportResults(50) {
				if c.errors || r.Outcome != pipeline.OutcomeError {
					results = append(results, r)
				}
			}
			path := tempPath(t, "r.html")
			sink, _ := NewHTML(path, Options{})
			writeAll(t, sink, run, results, summarize(run, results, c.complete, c.reason))
			b, _ := os.ReadFile(path)
			text, _ := inspectHTML(t, b)
			text = strings.Join(strings.Fields(text), " ")
			i := strings.Index(text, c.want)
			if i < 0 {
				t.Fatalf("banner %q missing", c.want)
			}
			// The banner comes right after the title, before any figure.
			if j := strings.Index(text, "Coverage"); j >= 0 && j < i {
				t.Errorf("banner after the first coverage figure")
			}
			final := c.complete && !c.errors
			if got := strings.Contains(text, "not final"); got == final {
				t.Errorf("\"not final\" shown = %v, want %v", got, !final)
			}
		})
	}
}

// TestHTMLSizeMillion streams a million cheap results through the sink:
// the file stays in the low megabytes.
func TestHTMLSizeMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	run := reportRun()
	path := tempPath(t, "big.html")
	sink, _ := NewHTML(path, Options{})
	ctx := context.Background()
	if err := sink.Open(ctx, run); err != nil {
		t.Fatal(err)
	}
	s := pipeline.Summary{Run: run}
	base := reportResults(10)
	for i := range 1_000_000 {
		r := base[i%10]
		r.UserID = fmt.Sprintf("user-%07d@corp.example.com", i)
		s.Add(&r)
		if err := sink.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s.Complete = true
	if err := sink.Close(ctx, s); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000,000 results: HTML report of %.2f MB", float64(fi.Size())/1e6)
	if fi.Size() >= 5<<20 {
		t.Errorf("report is %d bytes, want < 5 MB", fi.Size())
	}
}

func TestFormatCount(t *testing.T) {
	if got := formatCount(1234567); got != "1,234,567" {
		t.Errorf("formatCount = %q", got)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"out/a.xlsx,postgres://audit:hunter2@db:5432/x?sslmode=disable": "out/a.xlsx,postgres://audit:xxxxx@db:5432/x?sslmode=disable",
		"host=db user=a password=hunter2 dbname=x":                      "host=db user=a password=xxxxx dbname=x",
		"postgres://db/x?password=hunter2&sslmode=require":              "postgres://db/x?password=xxxxx&sslmode=require",
		"testdata/users.csv": "testdata/users.csv",
	} {
		if got := redactValue(in); got != want {
			t.Errorf("redactValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTMLChromium renders the report in headless Chromium: the key figures
// are on the page, and loading it asks the network for nothing but the page.
func TestHTMLChromium(t *testing.T) {
	chrome := lookTool(t, "chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
	run := reportRun()
	results := reportResults(300)
	s := summarize(run, results, false, "interrupted (SIGTERM)")
	path := tempPath(t, "report.html")
	sink, _ := NewHTML(path, Options{HTMLMaxRows: 20})
	writeAll(t, sink, run, results, s)
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/report.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()

	shot := filepath.Join(t.TempDir(), "report.png")
	if dir := os.Getenv("MFA_AUDIT_SCREENSHOT_DIR"); dir != "" {
		shot = filepath.Join(dir, "report.png")
	}
	dom := runChromium(t, chrome, srv.URL+"/report.html", "--dump-dom")
	runChromium(t, chrome, srv.URL+"/report.html", "--screenshot="+shot, "--window-size=1280,2400", "--hide-scrollbars")

	mu.Lock()
	defer mu.Unlock()
	for _, p := range requests {
		if p != "/report.html" {
			t.Errorf("the page requested %s: a report must not load anything", p)
		}
	}
	if len(requests) == 0 {
		t.Fatalf("chromium did not load the page")
	}

	text, problems := inspectHTML(t, dom)
	for _, p := range problems {
		t.Errorf("rendered DOM: %s", p)
	}
	text = strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		"INTERRUPTED (SIGTERM) — no figure is final",
		s.CoverageShare().String(),
		s.CompletenessShare().String(),
		formatCount(s.NonCompliant),
		formatCount(s.Unique),
		"Coverage by department",
		"MFA strength and factors bound, as shares of the checked users",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("no screenshot: %v", err)
	}
}

var chromeNoise = regexp.MustCompile(`(?m)^\[[0-9:/.]+:(ERROR|WARNING|INFO)[^\n]*\n?`)

func runChromium(t *testing.T, chrome, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	profile := t.TempDir()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
	}, args...)
	all = append(all, url)
	cmd := exec.CommandContext(ctx, chrome, all...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, io.Writer(&stderr)
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, chromeNoise.ReplaceAllString(stderr.String(), ""))
	}
	return stdout.Bytes()
}

// With the HTML as the only output, the cut-off lines point to no workbook
// or CSV that does not exist (issue 17 part 2).
func TestHTMLCutOffNamesOnlyOutputsThatExist(t *testing.T) {
	for _, c := range []struct {
		outputs []string
		want    string
		not     []string
	}{
		{[]string{KindHTML}, "This run wrote no other report that lists them: add an .xlsx or .csv file to AUDIT_OUTPUT", []string{"XLSX workbook (Users", "CSV output"}},
		{[]string{KindHTML, KindCSV}, "All of them are in the CSV output of this run.", []string{"XLSX workbook (Users"}},
		{[]string{KindHTML, KindJSONL}, "All of them are in the JSON Lines output of this run.", []string{"XLSX workbook (Users", "CSV output"}},
		{[]string{KindXLSX, KindHTML}, "All of them are in the XLSX workbook (Users sheet) of this run.", []string{"CSV output"}},
	} {
		t.Run(strings.Join(c.outputs, "+"), func(t *testing.T) {
			run := reportRun()
			results := reportResults(60)
			path := tempPath(t, "r.html")
			sink, err := NewHTML(path, Options{HTMLMaxRows: 2, Outputs: c.outputs})
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, sink, run, results, summarize(run, results, true, ""))
			b, _ := os.ReadFile(path)
			text, _ := inspectHTML(t, b)
			text = strings.Join(strings.Fields(text), " ")
			if !strings.Contains(text, c.want) {
				t.Errorf("page lacks %q", c.want)
			}
			for _, n := range c.not {
				if strings.Contains(text, n) {
					t.Errorf("page points to %q, which this run does not write", n)
				}
			}
		})
	}
}

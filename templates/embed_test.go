package templates

import (
	"html/template"
	"io/fs"
	"strings"
	"testing"
)

// The report must be self-contained: nothing in its template or style
// sheet may load a resource.
func TestSelfContained(t *testing.T) {
	sections, err := fs.Glob(FS, Sections)
	if err != nil || len(sections) == 0 {
		t.Fatalf("no section templates (%v)", err)
	}
	for _, name := range append([]string{ReportHTML, ReportCSS}, sections...) {
		b, err := FS.ReadFile(name)
		if err != nil {
			t.Fatalf("%s not embedded: %v", name, err)
		}
		text := strings.ToLower(string(b))
		for _, bad := range []string{"url(", "@import", "<script", "<img", "<link rel=\"stylesheet", "src=\"http", "href=\"http", "@font-face"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q: the report must load nothing", name, bad)
			}
		}
	}
	css, _ := FS.ReadFile(ReportCSS)
	if !strings.Contains(string(css), "@media print") {
		t.Errorf("%s has no print rules", ReportCSS)
	}
}

func TestParses(t *testing.T) {
	funcs := template.FuncMap{}
	for _, f := range []string{"count", "share", "int64", "add", "breakable"} {
		funcs[f] = func(...any) string { return "" }
	}
	if _, err := template.New(ReportHTML).Funcs(funcs).ParseFS(FS, ReportHTML, Sections); err != nil {
		t.Fatal(err)
	}
}

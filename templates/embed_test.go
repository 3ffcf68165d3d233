package templates

import (
	"html/template"
	"strings"
	"testing"
)

// The report must be self-contained: nothing in its template or style
// sheet may load a resource.
func TestSelfContained(t *testing.T) {
	for _, name := range []string{ReportHTML, ReportCSS} {
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
	for _, f := range []string{"count", "share", "int64", "add"} {
		funcs[f] = func(...any) string { return "" }
	}
	if _, err := template.New(ReportHTML).Funcs(funcs).ParseFS(FS, ReportHTML); err != nil {
		t.Fatal(err)
	}
}

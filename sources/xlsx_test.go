package sources

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// writeWorkbook saves a workbook as a spreadsheet program would: sheet
// "Users" first (text ids, a number id formatted 000000, formula-like and
// white-space-padded text, unicode, a blank row, a value right of the
// header), and a second sheet "Contractors".
func writeWorkbook(t testing.TB) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "Users"))
	_, err := f.NewSheet("Contractors")
	must(err)
	set := func(sheet, cell string, v any) {
		t.Helper()
		if s, ok := v.(string); ok {
			must(f.SetCellStr(sheet, cell, s)) // text-typed, never a formula
			return
		}
		must(f.SetCellValue(sheet, cell, v))
	}
	for i, h := range []string{"department", " user_id ", "id_type", "name"} {
		cell, _ := excelize.CoordinatesToCellName(i+1, 2) // row 1 left empty
		set("Users", cell, h)
	}
	set("Users", "A3", "\t=1+2")
	set("Users", "B3", "000123")
	set("Users", "C3", "username")
	set("Users", "D3", "Søren Ødegård")
	set("Users", "A4", " Sales\r")
	set("Users", "B4", 123)
	style, err := f.NewStyle(&excelize.Style{CustomNumFmt: new("000000")})
	must(err)
	must(f.SetCellStyle("Users", "B4", "B4", style))
	set("Users", "D4", "+86 136 9485 8601")
	// row 5 blank
	set("Users", "B6", "  63739db5e0c8a1b2c3d4e5f6  ")
	set("Users", "C6", "")
	set("Users", "D6", "李伟")
	set("Users", "A7", "Ops")
	set("Users", "C7", "email")
	set("Users", "B8", "u8")
	set("Users", "F8", "stray")
	set("Contractors", "A1", "email")
	set("Contractors", "B1", "company")
	set("Contractors", "A2", "ann@example.com")
	set("Contractors", "B2", "@Acme")
	path := filepath.Join(t.TempDir(), "users.xlsx")
	must(f.SaveAs(path))
	return path
}

func TestXLSX(t *testing.T) {
	path := writeWorkbook(t)
	t.Run("first sheet", func(t *testing.T) {
		x, err := OpenXLSX(path, CSVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if got, want := x.AttrNames(), []string{"department", "name"}; !reflect.DeepEqual(got, want) {
			t.Errorf("AttrNames() = %q, want %q", got, want)
		}
		if got, want := x.Layout(), (Layout{IDColumn: "user_id", IDTypeColumn: "id_type", DefaultIDType: "user_id", Sheet: "Users"}); got != want {
			t.Errorf("Layout() = %+v, want %+v", got, want)
		}
		got, err := readAll(x)
		if err != nil {
			t.Fatal(err)
		}
		want := []pipeline.Subject{
			{UserID: "000123", IDType: "username", Line: 3, Attrs: csvAttrs("department", "\t=1+2", "name", "Søren Ødegård")},
			{UserID: "000123", IDType: "user_id", Line: 4, Attrs: csvAttrs("department", " Sales\r", "name", "+86 136 9485 8601")},
			{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 6, Attrs: csvAttrs("department", "", "name", "李伟")},
			{UserID: "", IDType: "email", Line: 7, Attrs: csvAttrs("department", "Ops", "name", ""), Invalid: "row 7: empty user id"},
			{UserID: "u8", IDType: "user_id", Line: 8, Attrs: csvAttrs("department", "", "name", ""),
				Invalid: "row 8: a value in column F, right of the header's 4 columns"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subjects:\n got %#v\nwant %#v", got, want)
		}
		if x.Total() != -1 || x.Describe() != path {
			t.Errorf("Total() = %d, Describe() = %q", x.Total(), x.Describe())
		}
	})
	t.Run("named sheet", func(t *testing.T) {
		x, err := OpenXLSX(path+"#Contractors", CSVOptions{DefaultIDType: "email"})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		got, err := readAll(x)
		want := []pipeline.Subject{{UserID: "ann@example.com", IDType: "email", Line: 2, Attrs: csvAttrs("company", "@Acme")}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
		if l := x.Layout(); l.Sheet != "Contractors" || l.IDColumn != "email" || l.IDTypeColumn != "" || l.DefaultIDType != "email" {
			t.Errorf("Layout() = %+v", l)
		}
	})
	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		csvNamedXLSX := filepath.Join(dir, "export.xlsx")
		os.WriteFile(csvNamedXLSX, []byte("user_id;name\nu1;A\n"), 0o600)
		xls := filepath.Join(dir, "old.xlsx")
		os.WriteFile(xls, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00"), 0o600)
		for _, c := range []struct {
			source string
			opt    CSVOptions
			want   []string
		}{
			{source: path + "#Nope", want: []string{"AUDIT_SOURCE", `no sheet "Nope"`, "sheets: Users, Contractors"}},
			{source: path, opt: CSVOptions{IDColumn: "mail"}, want: []string{"AUDIT_ID_COLUMN", `"mail"`, `sheet "Users"`}},
			{source: csvNamedXLSX, want: []string{csvNamedXLSX, "not an .xlsx workbook", "CSV named .xlsx"}},
			{source: xls, want: []string{"not an .xlsx workbook", ".xls"}},
			{source: filepath.Join(dir, "missing.xlsx"), want: []string{"missing.xlsx", "no such file"}},
		} {
			x, err := OpenXLSX(c.source, c.opt)
			if err == nil {
				x.Close()
				t.Errorf("%s: opened, want an error", c.source)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not contain %q", c.source, err, w)
				}
			}
		}
	})
}

func TestIsXLSX(t *testing.T) {
	for src, want := range map[string]bool{
		"users.xlsx": true, "USERS.XLSX": true, "a/users.xlsx#Sheet 2": true, "odd#name.xlsx": true,
		"users.csv": false, "-": false, "users.xlsx.csv": false, "genauth:users": false,
	} {
		if got := IsXLSX(src); got != want {
			t.Errorf("IsXLSX(%q) = %v", src, got)
		}
	}
	if p, s := splitXLSX("a/users.xlsx#Sheet 2"); p != "a/users.xlsx" || s != "Sheet 2" {
		t.Errorf("splitXLSX = %q, %q", p, s)
	}
}

// readAll drains any source.
func readAll(s pipeline.Source) ([]pipeline.Subject, error) {
	var subs []pipeline.Subject
	for {
		sub, err := s.Next(context.Background())
		if err == pipeline.EOF {
			return subs, nil
		}
		if err != nil {
			return subs, err
		}
		subs = append(subs, sub)
	}
}

package sources

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// TestCSVAsExported reads files as spreadsheet programs export them: a
// European locale's semicolons with a BOM and CRLF, Windows-1252, Excel's
// "Unicode text" (UTF-16LE with a BOM, tabs), a tab-separated file.
func TestCSVAsExported(t *testing.T) {
	tests := []struct {
		file   string
		opt    CSVOptions
		layout Layout
		want   []pipeline.Subject
	}{
		{
			file:   "semicolon_bom_crlf.csv",
			layout: Layout{IDColumn: "user_id", DefaultIDType: "user_id", Delimiter: ";", Encoding: "utf-8"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2,
					Attrs: csvAttrs("name", "Søren Ødegård", "department", "Engineering", "note", "a;b")},
				{UserID: "63739db5e0c8a1b2c3d4e5f7", IDType: "user_id", Line: 3,
					Attrs: csvAttrs("name", "José Núñez", "department", "\t=1+2", "note", "")},
				{UserID: "63739db5e0c8a1b2c3d4e5f8", IDType: "user_id", Line: 4,
					Attrs: csvAttrs("name", "Zoë", "department", "Sales", "note", ""), Invalid: "line 4: 3 fields, header has 4"},
			},
		},
		{
			file:   "windows1252.csv",
			opt:    CSVOptions{Encoding: "Windows-1252", DefaultIDType: "user_id"},
			layout: Layout{IDColumn: "user_id", DefaultIDType: "user_id", Delimiter: ",", Encoding: "windows-1252"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2, Attrs: csvAttrs("name", "Müller", "department", "Vertrieb €")},
				{UserID: "63739db5e0c8a1b2c3d4e5f7", IDType: "user_id", Line: 3, Attrs: csvAttrs("name", "“Zoë” Ærø", "department", "Straße")},
			},
		},
		{
			file:   "windows1252.csv",
			opt:    CSVOptions{Encoding: "latin1"}, // the WHATWG alias
			layout: Layout{IDColumn: "user_id", DefaultIDType: "user_id", Delimiter: ",", Encoding: "windows-1252"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2, Attrs: csvAttrs("name", "Müller", "department", "Vertrieb €")},
				{UserID: "63739db5e0c8a1b2c3d4e5f7", IDType: "user_id", Line: 3, Attrs: csvAttrs("name", "“Zoë” Ærø", "department", "Straße")},
			},
		},
		{
			file: "utf16le_bom.csv",
			// The byte order mark wins over the variable.
			opt:    CSVOptions{Encoding: "windows-1252"},
			layout: Layout{IDColumn: "user_id", IDTypeColumn: "id_type", DefaultIDType: "user_id", Delimiter: "tab", Encoding: "utf-16le (byte order mark)"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2, Attrs: csvAttrs("name", "李伟")},
				{UserID: "soren@example.com", IDType: "email", Line: 3, Attrs: csvAttrs("name", "Søren 😀")},
			},
		},
		{
			file:   "utf16le_nobom.csv",
			opt:    CSVOptions{Encoding: "utf-16le"},
			layout: Layout{IDColumn: "user_id", IDTypeColumn: "id_type", DefaultIDType: "user_id", Delimiter: "tab", Encoding: "utf-16le"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2, Attrs: csvAttrs("name", "李伟")},
				{UserID: "soren@example.com", IDType: "email", Line: 3, Attrs: csvAttrs("name", "Søren 😀")},
			},
		},
		{
			file:   "tab.csv",
			layout: Layout{IDColumn: "user_id", DefaultIDType: "user_id", Delimiter: "tab", Encoding: "utf-8"},
			want: []pipeline.Subject{
				{UserID: "63739db5e0c8a1b2c3d4e5f6", IDType: "user_id", Line: 2, Attrs: csvAttrs("department", "R&D, Lab 2", "name", "Li; Wei")},
				{UserID: "63739db5e0c8a1b2c3d4e5f7", IDType: "user_id", Line: 3, Attrs: csvAttrs("department", " Ops ", "name", "Tab\tInside")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.opt.Encoding+tt.opt.Delimiter, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "csv", tt.file)
			s, err := OpenCSV(path, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := s.Layout(); got != tt.layout {
				t.Errorf("Layout() = %+v, want %+v", got, tt.layout)
			}
			if got := s.Total(); got != int64(len(tt.want)) {
				t.Errorf("Total() = %d, want %d", got, len(tt.want))
			}
			got, err := readCSVAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subjects:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestCSVDelimiterFromHeader(t *testing.T) {
	for in, want := range map[string]string{
		"user_id\nu1\n":                 ",",
		"user_id;name\nu1;a,b\n":        ";",
		"\"a;b\",c\nu1,x\n":             ",", // quoted ; does not count
		"user_id;name,first;dept\n":     ";",
		"user_id,name;first,dept\n":     ",",
		"\r\n\nuser_id\tname\nu1\tA\n":  "tab",
		"user_id,a;b\n":                 ",", // a tie keeps the comma
		"\"user_id\";\"na;me\"\nu1;x\n": ";",
	} {
		s, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader(in)})
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := s.Layout().Delimiter; got != want {
			t.Errorf("%q: delimiter %q, want %q", in, got, want)
		}
		s.Close()
	}
	s, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader("user_id,name;x\nu1,a;b\n"), Delimiter: ";"})
	if err != nil {
		t.Fatal(err)
	}
	// AUDIT_CSV_DELIMITER wins over the header line.
	got, err := readCSVAll(t, s)
	want := []pipeline.Subject{{UserID: "u1,a", IDType: "user_id", Line: 2, Attrs: csvAttrs("x", "b")}}
	if err != nil || !reflect.DeepEqual(got, want) || s.Layout().Delimiter != ";" {
		t.Errorf("AUDIT_CSV_DELIMITER=; : got %+v, %v, %+v", got, err, s.Layout())
	}
	for _, d := range []string{"|", "semi", "  "} {
		if _, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader("a\n"), Delimiter: d}); err == nil || !strings.Contains(err.Error(), "AUDIT_CSV_DELIMITER") {
			t.Errorf("delimiter %q: error %v, want one naming AUDIT_CSV_DELIMITER", d, err)
		}
	}
}

// TestCSVInvalidBytes: bytes not valid in the encoding are found by the
// pre-scan of a file (Check, before any API call) and by Next on stdin,
// naming the line and AUDIT_SOURCE_ENCODING.
func TestCSVInvalidBytes(t *testing.T) {
	t.Run("windows-1252 read as utf-8", func(t *testing.T) {
		path := filepath.Join("..", "testdata", "csv", "windows1252.csv")
		s, err := OpenCSV(path, CSVOptions{})
		if err != nil {
			t.Fatal(err) // the header is ASCII
		}
		defer s.Close()
		err = s.Check(context.Background())
		var ee *EncodingError
		if !errors.As(err, &ee) || ee.Line != 2 {
			t.Fatalf("Check = %v, want an *EncodingError on line 2", err)
		}
		for _, w := range []string{path + " line 2", "not valid utf-8", "AUDIT_SOURCE_ENCODING", "windows-1252"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		if _, err := s.Next(context.Background()); !errors.As(err, &ee) || ee.Line != 2 {
			t.Errorf("Next = %v, want the *EncodingError of line 2", err)
		}
	})
	t.Run("stdin, a bad line after good ones", func(t *testing.T) {
		in := "user_id,name\nu1,ok\nu2,\"two\nlines\"\nu3,M\xfcller\nu4,x\n"
		s, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader(in)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Check(context.Background()); err != nil {
			t.Fatalf("Check on stdin = %v, want nil (nothing to pre-scan)", err)
		}
		got, err := readCSVAll(t, s)
		var ee *EncodingError
		if len(got) != 2 || !errors.As(err, &ee) || ee.Line != 5 || !strings.Contains(err.Error(), "stdin line 5") {
			t.Fatalf("got %d subjects and %v, want 2 and the *EncodingError of stdin line 5", len(got), err)
		}
	})
	t.Run("gb18030", func(t *testing.T) {
		enc, err := simplifiedchinese.GB18030.NewEncoder().String("user_id,部门\nu1,研发部\nu2,销售\n")
		if err != nil {
			t.Fatal(err)
		}
		good := writeTempCSV(t, enc)
		s, err := OpenCSV(good, CSVOptions{Encoding: "gb18030"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := readCSVAll(t, s)
		s.Close()
		want := []pipeline.Subject{
			{UserID: "u1", IDType: "user_id", Line: 2, Attrs: csvAttrs("部门", "研发部")},
			{UserID: "u2", IDType: "user_id", Line: 3, Attrs: csvAttrs("部门", "销售")},
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
		bad := writeTempCSV(t, enc+"u3,\x81\x20\n")
		s, err = OpenCSV(bad, CSVOptions{Encoding: "GB18030"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		err = s.Check(context.Background())
		if err == nil || !strings.Contains(err.Error(), "line 4: bytes that are not valid gb18030 (AUDIT_SOURCE_ENCODING=gb18030)") {
			t.Errorf("Check = %v", err)
		}
	})
	t.Run("a long line cut by the buffer", func(t *testing.T) {
		long := strings.Repeat("ø", 300<<10) // 600 KiB of 2-byte runes, cut across buffers
		s, err := OpenCSV(writeTempCSV(t, "user_id,note\nu1,"+long+"\nu2,\xff\n"), CSVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var ee *EncodingError
		if err := s.Check(context.Background()); !errors.As(err, &ee) || ee.Line != 3 {
			t.Errorf("Check = %v, want the *EncodingError of line 3", err)
		}
	})
	t.Run("unknown encoding", func(t *testing.T) {
		for _, e := range []string{"utf-9", "replacement", "klingon"} {
			if _, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader("a\n"), Encoding: e}); err == nil || !strings.Contains(err.Error(), "AUDIT_SOURCE_ENCODING") {
				t.Errorf("encoding %q: error %v", e, err)
			}
		}
	})
}

// TestCSVNotCSV: a file that is not CSV text, or has no header, is refused
// with the fix in words.
func TestCSVNotCSV(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		opt  CSVOptions
		want []string
	}{
		{name: "xlsx named .csv", in: mustRead(t, filepath.Join("..", "testdata", "csv", "not_csv.xlsx")),
			want: []string{"not a CSV text file", ".xlsx workbook", "AUDIT_SOURCE=FILE.xlsx"}},
		{name: "UTF-16LE without BOM", in: mustRead(t, filepath.Join("..", "testdata", "csv", "utf16le_nobom.csv")),
			want: []string{"not a CSV text file", "UTF-16", "AUDIT_SOURCE_ENCODING=utf-16le"}},
		{name: "UTF-16BE without BOM", in: []byte("\x00u\x00s\x00e\x00r\x00_\x00i\x00d\x00\n\x00u\x001\x00\n"),
			want: []string{"UTF-16 (big-endian)", "AUDIT_SOURCE_ENCODING=utf-16be"}},
		{name: "xls", in: []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), want: []string{".xls", "save it as .xlsx"}},
		{name: "binary", in: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), want: []string{"line 1", "not a CSV text file", "binary"}},
		{name: "no header: ids in the first row", in: []byte("63739db5e0c8a1b2c3d4e5f6,Sales\n63739db5e0c8a1b2c3d4e5f7,Ops\n"),
			want: []string{"line 1", "no header row", `"63739db5e0c8a1b2c3d4e5f6"`, "AUDIT_ID_COLUMN"}},
		{name: "no header: e-mails", in: []byte("ann@example.com;Ann\n"), want: []string{"no header row", "ann@example.com"}},
		{name: "no header: phones", in: []byte("+86 138 0013 8000\n"), want: []string{"no header row"}},
		{name: "header not valid utf-8", in: []byte("user_id,Abteilung f\xfcr\nu1,x\n"),
			want: []string{"line 1", "not valid utf-8", "AUDIT_SOURCE_ENCODING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenCSV("-", CSVOptions{Stdin: bytes.NewReader(tt.in)})
			if err == nil {
				s.Close()
				t.Fatal("OpenCSV succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// A header of names that happen to look like nothing special is fine,
	// and so is a first row of ids when the id column is named.
	for _, c := range []struct {
		in  string
		opt CSVOptions
	}{
		{in: "mail,name\nann@example.com,Ann\n"},
		{in: "user_id\n63739db5e0c8a1b2c3d4e5f6\n"},
		{in: "63739db5e0c8a1b2c3d4e5f6\n63739db5e0c8a1b2c3d4e5f7\n", opt: CSVOptions{IDColumn: "63739db5e0c8a1b2c3d4e5f6"}},
	} {
		c.opt.Stdin = strings.NewReader(c.in)
		s, err := OpenCSV("-", c.opt)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		s.Close()
	}
}

// TestCSVSepLine: Excel's "sep=;" first line names the delimiter; lines
// are still counted from the top of the file.
func TestCSVSepLine(t *testing.T) {
	s, err := OpenCSV(writeTempCSV(t, "sep=;\r\nuser_id;name\r\nu1;A,B\r\nu2\r\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := readCSVAll(t, s)
	want := []pipeline.Subject{
		{UserID: "u1", IDType: "user_id", Line: 3, Attrs: csvAttrs("name", "A,B")},
		{UserID: "u2", IDType: "user_id", Line: 4, Attrs: csvAttrs("name", ""), Invalid: "line 4: 1 fields, header has 2"},
	}
	if err != nil || !reflect.DeepEqual(got, want) || s.Layout().Delimiter != ";" || s.Total() != 2 {
		t.Errorf("got %+v, %v, %+v, total %d; want %+v, total 2", got, err, s.Layout(), s.Total(), want)
	}
	s2, err := OpenCSV(writeTempCSV(t, "sep=,\nuser_id,name\nu1,a\"b\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := readCSVAll(t, s2); err == nil || !strings.Contains(err.Error(), "line 3 column") {
		t.Errorf("parse error %v, want it on line 3", err)
	}
}

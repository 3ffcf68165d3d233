package sources

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// writeCSV writes content to users.csv in a temporary directory.
func writeTempCSV(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll drains s, returning the subjects and the error that ended it
// (nil at EOF).
func readCSVAll(t testing.TB, s *CSV) ([]pipeline.Subject, error) {
	t.Helper()
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

func csvAttrs(kv ...string) pipeline.Attrs {
	var a pipeline.Attrs
	for i := 0; i < len(kv); i += 2 {
		a = append(a, pipeline.Attr{Key: kv[i], Value: kv[i+1]})
	}
	return a
}

var unknownTypeSuffix = " (want one of " + strings.Join(pipeline.IDTypes, ", ") + ")"

func TestCSVFiles(t *testing.T) {
	tests := []struct {
		file      string
		attrNames []string
		want      []pipeline.Subject
	}{
		{
			file:      "users_bom_crlf.csv",
			attrNames: []string{"department", "name"},
			want: []pipeline.Subject{
				{UserID: "5f8d0c3e2a1b4c6d7e8f9a0b", IDType: "user_id", Attrs: csvAttrs("department", "Sales", "name", "Li, Wei"), Line: 2},
				{UserID: "alice@example.com", IDType: "email", Attrs: csvAttrs("department", "Finance", "name", `Alice "Al" Smith`), Line: 4},
				{UserID: "13800138000", IDType: "phone", Attrs: csvAttrs("department", "R&D\nLab 2", "name", "Wang"), Line: 5},
				{UserID: "", IDType: "user_id", Attrs: csvAttrs("department", "Sales", "name", "Nobody"), Line: 7, Invalid: "line 7: empty user id"},
				{UserID: "bob", IDType: "nickname", Attrs: csvAttrs("department", "Ops", "name", "Bob"), Line: 8, Invalid: `line 8: unknown id type "nickname"` + unknownTypeSuffix},
				// Only the id and its type are trimmed; attributes stay byte for byte.
				{UserID: "carol", IDType: "username", Attrs: csvAttrs("department", "  Ops  ", "name", "  Carol  "), Line: 9},
			},
		},
		{
			file:      "users_lf.csv",
			attrNames: []string{"dept"},
			want: []pipeline.Subject{
				{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("dept", "A"), Line: 2},
				{UserID: "u2", IDType: "email", Attrs: csvAttrs("dept", "B"), Line: 3},
				{UserID: "u3", IDType: "user_id", Attrs: csvAttrs("dept", ""), Line: 5, Invalid: "line 5: 1 fields, header has 3"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("..", "testdata", "csv", tt.file)
			s, err := OpenCSV(path, CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.AttrNames(); !reflect.DeepEqual(got, tt.attrNames) {
				t.Errorf("AttrNames() = %q, want %q", got, tt.attrNames)
			}
			if s.Describe() != path {
				t.Errorf("Describe() = %q", s.Describe())
			}
			<-s.scanned // the pre-scan: lines less the header
			lines := int64(bytes.Count(mustRead(t, path), []byte("\n")))
			if got := s.Total(); got != lines-1 && got != lines {
				t.Errorf("Total() = %d for a file of %d line breaks", got, lines)
			}
			got, err := readCSVAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subjects:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		opt       CSVOptions
		attrNames []string
		want      []pipeline.Subject
	}{
		{
			name:      "LF, no id type column",
			in:        "user_id,dept\nu1,A\nu2,B\n",
			attrNames: []string{"dept"},
			want: []pipeline.Subject{
				{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("dept", "A"), Line: 2},
				{UserID: "u2", IDType: "user_id", Attrs: csvAttrs("dept", "B"), Line: 3},
			},
		},
		{
			name:      "no trailing newline, CRLF",
			in:        "user_id,dept\r\nu1,A\r\nu2,B",
			attrNames: []string{"dept"},
			want: []pipeline.Subject{
				{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("dept", "A"), Line: 2},
				{UserID: "u2", IDType: "user_id", Attrs: csvAttrs("dept", "B"), Line: 3},
			},
		},
		{
			name:      "quoted newlines keep line numbers",
			in:        "user_id,note\nu1,\"a\nb\r\nc\"\n\n\nu2,\"x,y\"\"z\"\nu3,\n",
			attrNames: []string{"note"},
			want: []pipeline.Subject{
				{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("note", "a\nb\nc"), Line: 2},
				{UserID: "u2", IDType: "user_id", Attrs: csvAttrs("note", `x,y"z`), Line: 7},
				{UserID: "u3", IDType: "user_id", Attrs: csvAttrs("note", ""), Line: 8},
			},
		},
		{
			name:      "blank and all-empty rows skipped",
			in:        "\n\nuser_id,a,b\n\n,,\n  ,\t, \nu1,x,y\n,,\n",
			attrNames: []string{"a", "b"},
			want:      []pipeline.Subject{{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("a", "x", "b", "y"), Line: 7}},
		},
		{
			name:      "fewer and more cells than the header",
			in:        "user_id,a,b\nu1\nu2,x,y,z,w\n",
			attrNames: []string{"a", "b"},
			want: []pipeline.Subject{
				{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("a", "", "b", ""), Line: 2, Invalid: "line 2: 1 fields, header has 3"},
				{UserID: "u2", IDType: "user_id", Attrs: csvAttrs("a", "x", "b", "y"), Line: 3, Invalid: "line 3: 5 fields, header has 3"},
			},
		},
		{
			name:      "names and ids trimmed, attributes byte for byte",
			in:        " user_id , id_type , name ,dept\n  u1 \t,  email ,\t=1+2,\"\r x \"\n",
			attrNames: []string{"name", "dept"},
			want:      []pipeline.Subject{{UserID: "u1", IDType: "email", Attrs: csvAttrs("name", "\t=1+2", "dept", "\r x "), Line: 2}},
		},
		{
			name:      "userId and userIdType",
			in:        "name,userIdType,userId\nA,phone,+8613800138000\n",
			attrNames: []string{"name"},
			want:      []pipeline.Subject{{UserID: "+8613800138000", IDType: "phone", Attrs: csvAttrs("name", "A"), Line: 2}},
		},
		{
			name:      "user_id wins over userId and id",
			in:        "id,userId,user_id\na,b,c\n",
			attrNames: []string{"id", "userId"},
			want:      []pipeline.Subject{{UserID: "c", IDType: "user_id", Attrs: csvAttrs("id", "a", "userId", "b"), Line: 2}},
		},
		{
			name:      "candidate order before exact case",
			in:        "id,User_ID\na,b\n",
			attrNames: []string{"id"},
			want:      []pipeline.Subject{{UserID: "b", IDType: "user_id", Attrs: csvAttrs("id", "a"), Line: 2}},
		},
		{
			name:      "exact case before folded case",
			in:        "ID_TYPE,Id,id_type,id\nx,y,email,z\n",
			attrNames: []string{"ID_TYPE", "Id"},
			want:      []pipeline.Subject{{UserID: "z", IDType: "email", Attrs: csvAttrs("ID_TYPE", "x", "Id", "y"), Line: 2}},
		},
		{
			name:      "case-insensitive id",
			in:        "name,ID,ID_Type\nA,u1,username\n",
			attrNames: []string{"name"},
			want:      []pipeline.Subject{{UserID: "u1", IDType: "username", Attrs: csvAttrs("name", "A"), Line: 2}},
		},
		{
			name:      "first column when no id name",
			in:        "mail,name\na@example.com,A\n",
			opt:       CSVOptions{DefaultIDType: "email"},
			attrNames: []string{"name"},
			want:      []pipeline.Subject{{UserID: "a@example.com", IDType: "email", Attrs: csvAttrs("name", "A"), Line: 2}},
		},
		{
			name:      "first column is the id type column",
			in:        "id_type,login\nusername,bob\n",
			attrNames: nil,
			want:      []pipeline.Subject{{UserID: "bob", IDType: "username", Line: 2}},
		},
		{
			name:      "explicit columns",
			in:        "user_id,Mail,Kind\nx,a@example.com,email\n",
			opt:       CSVOptions{IDColumn: "mail", IDTypeColumn: "KIND"},
			attrNames: []string{"user_id"},
			want:      []pipeline.Subject{{UserID: "a@example.com", IDType: "email", Attrs: csvAttrs("user_id", "x"), Line: 2}},
		},
		{
			name:      "explicit id column that looks like a type column",
			in:        "login,id_type\nx,u1\n",
			opt:       CSVOptions{IDColumn: "id_type"},
			attrNames: []string{"login"},
			want:      []pipeline.Subject{{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("login", "x"), Line: 2}},
		},
		{
			name:      "explicit type column that looks like an id column",
			in:        "user_id,login\nusername,bob\n",
			opt:       CSVOptions{IDTypeColumn: "user_id"},
			attrNames: nil,
			want:      []pipeline.Subject{{UserID: "bob", IDType: "username", Line: 2}},
		},
		{
			name:      "duplicate and empty header names",
			in:        "user_id,dept,,dept, ,dept_2\nu1,a,b,c,d,e\n",
			attrNames: []string{"dept", "column_3", "dept_2", "column_5", "dept_2_2"},
			want: []pipeline.Subject{{UserID: "u1", IDType: "user_id", Line: 2,
				Attrs: csvAttrs("dept", "a", "column_3", "b", "dept_2", "c", "column_5", "d", "dept_2_2", "e")}},
		},
		{
			name:      "invalid rows",
			in:        "user_id,id_type\n,\n  ,email\nu1,Email\nu2,  \n",
			attrNames: nil,
			want: []pipeline.Subject{
				// A row of blank cells is skipped; one with a type is not.
				{UserID: "", IDType: "email", Line: 3, Invalid: "line 3: empty user id"},
				{UserID: "u1", IDType: "Email", Line: 4, Invalid: `line 4: unknown id type "Email"` + unknownTypeSuffix},
				{UserID: "u2", IDType: "user_id", Line: 5},
			},
		},
		{
			name:      "header only",
			in:        "user_id,dept\n",
			attrNames: []string{"dept"},
		},
		{
			name:      "BOM before a quoted header",
			in:        "\uFEFF\"user_id\",\"dept\"\n\"u1\",\"A\"\n",
			attrNames: []string{"dept"},
			want:      []pipeline.Subject{{UserID: "u1", IDType: "user_id", Attrs: csvAttrs("dept", "A"), Line: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenCSV(writeTempCSV(t, tt.in), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.AttrNames(); !reflect.DeepEqual(got, tt.attrNames) {
				t.Errorf("AttrNames() = %q, want %q", got, tt.attrNames)
			}
			got, err := readCSVAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subjects:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCSVOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  CSVOptions
		want []string // substrings of the error
	}{
		{name: "empty file", in: "", want: []string{"users.csv", "empty file"}},
		{name: "only blank lines", in: "\n\r\n\n", want: []string{"users.csv", "empty file"}},
		{name: "only a BOM", in: "\uFEFF", want: []string{"users.csv", "empty file"}},
		{name: "empty header", in: ",, ,\nu1,a\n", want: []string{"users.csv line 1", "no column names"}},
		{name: "bare quote in header", in: "user_id,na\"me\nu1,a\n", want: []string{"users.csv line 1 column 11", `bare "`}},
		{name: "unterminated quote", in: "\"user_id,name\nu1,a\n", want: []string{"users.csv line 2", `extraneous or missing "`}},
		{name: "binary", in: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", want: []string{"users.csv line 1", "not a CSV text file"}},
		{name: "zip", in: "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", want: []string{"users.csv line 1", "not a CSV text file"}},
		{name: "missing id column", in: "user_id,dept\n", opt: CSVOptions{IDColumn: "uid"},
			want: []string{"AUDIT_ID_COLUMN", `"uid"`, "users.csv", "columns: user_id, dept"}},
		{name: "missing id type column", in: "user_id,dept\n", opt: CSVOptions{IDTypeColumn: "kind"},
			want: []string{"AUDIT_ID_TYPE_COLUMN", `"kind"`, "users.csv", "columns: user_id, dept"}},
		{name: "id and type the same column", in: "a,b\n", opt: CSVOptions{IDColumn: "a", IDTypeColumn: "A"},
			want: []string{"AUDIT_ID_COLUMN", "same column"}},
		{name: "only the id type column", in: "id_type\nemail\n", want: []string{"users.csv", "id-type column"}},
		{name: "unknown default id type", in: "user_id\nu1\n", opt: CSVOptions{DefaultIDType: "nick"},
			want: []string{"AUDIT_ID_TYPE", `"nick"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenCSV(writeTempCSV(t, tt.in), tt.opt)
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

	t.Run("testdata", func(t *testing.T) {
		for _, f := range []string{"empty.csv", "not_csv.xlsx"} {
			path := filepath.Join("..", "testdata", "csv", f)
			if _, err := OpenCSV(path, CSVOptions{}); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("OpenCSV(%s): error %v, want one naming the file", f, err)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.csv")
		if _, err := OpenCSV(path, CSVOptions{}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v, want not-exist naming the file", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := OpenCSV(dir, CSVOptions{}); err == nil || !strings.Contains(err.Error(), "directory") {
			t.Errorf("error %v, want one saying it is a directory", err)
		}
	})
}

func TestCSVParseErrorMidFile(t *testing.T) {
	path := filepath.Join("..", "testdata", "csv", "bare_quote.csv")
	s, err := OpenCSV(path, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readCSVAll(t, s)
	if len(got) != 1 || got[0].UserID != "u1" {
		t.Errorf("subjects before the error = %+v, want u1", got)
	}
	want := path + ` line 3 column 7: bare " in non-quoted-field (a field holding " must be quoted as a whole`
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, csv.ErrBareQuote) {
		t.Fatalf("error %v, want %q wrapping csv.ErrBareQuote", err, want)
	}
	if _, err2 := s.Next(context.Background()); err2 != err {
		t.Errorf("Next after the error = %v, want the same error", err2)
	}
}

func TestCSVStdin(t *testing.T) {
	in := strings.NewReader("\uFEFFuser_id\r\nu1\r\n")
	s, err := OpenCSV("-", CSVOptions{Stdin: in})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Describe() != "stdin" {
		t.Errorf("Describe() = %q, want stdin", s.Describe())
	}
	got, err := readCSVAll(t, s)
	want := []pipeline.Subject{{UserID: "u1", IDType: "user_id", Line: 2}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := OpenCSV("-", CSVOptions{Stdin: strings.NewReader("")}); err == nil || !strings.Contains(err.Error(), "stdin: empty file") {
		t.Errorf("empty stdin: error %v", err)
	}
}

func TestCSVContext(t *testing.T) {
	s, err := OpenCSV(writeTempCSV(t, "user_id\nu1\n"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context = %v, want context.Canceled", err)
	}
	if sub, err := s.Next(context.Background()); err != nil || sub.UserID != "u1" {
		t.Errorf("Next after = %+v, %v; want u1", sub, err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func FuzzCSV(f *testing.F) {
	for _, seed := range []string{
		"user_id,id_type,dept\nu1,email,A\n",
		"\uFEFFuser_id,name\r\nu1,\"a,b\"\r\n\r\nu2,\"x\ny\"\r\n",
		"id,userIdType\n,phone\nu1,nick\n  ,,\n",
		"user_id\n\"unterminated\n",
		"a,b\nx,y\"z\n",
		"\n\n",
		",,\n1,2\n",
		"",
		"\x00\x01\xff",
	} {
		f.Add([]byte(seed))
	}
	for _, name := range []string{"users_bom_crlf.csv", "users_lf.csv", "bare_quote.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "csv", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := OpenCSV("-", CSVOptions{Stdin: bytes.NewReader(data)})
		if err != nil {
			return
		}
		defer s.Close()
		lines := int64(bytes.Count(data, []byte("\n")) + 1)
		var n, last int64
		for {
			sub, err := s.Next(context.Background())
			if err != nil {
				break
			}
			n++
			if sub.Line <= last || sub.Line > lines {
				t.Fatalf("subject %d: line %d after line %d (%d lines)", n, sub.Line, last, lines)
			}
			last = sub.Line
			if len(sub.Attrs) != len(s.AttrNames()) {
				t.Fatalf("subject %d: %d attributes, %d names", n, len(sub.Attrs), len(s.AttrNames()))
			}
			if sub.Invalid == "" && (sub.UserID == "" || !pipeline.ValidIDType(sub.IDType)) {
				t.Fatalf("subject %d accepted: %+v", n, sub)
			}
		}
		if n > lines {
			t.Fatalf("%d subjects from %d lines", n, lines)
		}
	})
}

// BenchmarkCSV reads 3-column rows; rows/s is the figure to watch.
func BenchmarkCSV(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("user_id,id_type,department\n")
	const rows = 100_000
	for i := range rows {
		fmt.Fprintf(&buf, "5f8d0c3e2a1b4c6d%08x,user_id,dept-%d\n", i, i%50)
	}
	path := writeTempCSV(b, buf.String())
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := OpenCSV(path, CSVOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		ctx := context.Background()
		for {
			_, err := s.Next(ctx)
			if err != nil {
				if err != pipeline.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		s.Close()
		if n != rows {
			b.Fatalf("%d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

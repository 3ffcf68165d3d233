package exceptions

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseAcceptsTheDocumentedForms(t *testing.T) {
	cases := map[string]string{
		"plain":       "id_type,user_id,reason,approved_by,expires,ticket\nuser_id,65a1b2c3d4e5f60718293a4b,service account,ciso@example.com,2026-12-31,SEC-1\n",
		"bom crlf":    "\uFEFFid_type,user_id,reason,approved_by,expires\r\nuser_id,65a1b2c3d4e5f60718293a4b,service account,ciso@example.com,2026-12-31\r\n",
		"semicolon":   "id_type;user_id;reason;approved_by;expires\nuser_id;65a1b2c3d4e5f60718293a4b;\"leave; back in May\";ciso@example.com;2026-12-31\n",
		"tab":         "id_type\tuser_id\treason\tapproved_by\texpires\n\t65a1b2c3d4e5f60718293a4b\tservice account\tciso\t2026-12-31\n",
		"reordered":   "user_id,expires,reason,approved_by,id_type\n65a1b2c3d4e5f60718293a4b,2026-12-31,service account,ciso,user_id\n",
		"blank lines": "id_type,user_id,reason,approved_by,expires\n\nuser_id,65a1b2c3d4e5f60718293a4b,\"multi\nline\",ciso,2026-12-31\n\n",
		"header only": "id_type,user_id,reason,approved_by,expires\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			reg, err := Parse("reg.csv", []byte(text), "user_id")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if name == "header only" {
				if len(reg.Entries) != 0 {
					t.Fatalf("entries = %d", len(reg.Entries))
				}
				return
			}
			if len(reg.Entries) != 1 {
				t.Fatalf("entries = %d, want 1", len(reg.Entries))
			}
			e := reg.Entries[0]
			if e.IDType != "user_id" || e.UserID != "65a1b2c3d4e5f60718293a4b" || e.ExpiresText() != "2026-12-31" || e.ApprovedBy == "" {
				t.Fatalf("entry = %+v", e)
			}
			if name == "blank lines" && e.Line != 3 {
				t.Fatalf("line = %d, want 3", e.Line)
			}
			if _, ok := reg.Lookup(e.Key()); !ok {
				t.Fatal("Lookup does not find the entry")
			}
			if len(reg.SHA256) != 64 {
				t.Fatalf("sha256 = %q", reg.SHA256)
			}
		})
	}
}

func TestParseReportsEveryProblemWithItsLine(t *testing.T) {
	text := strings.Join([]string{
		"id_type,user_id,reason,approved_by,expires,ticket",       // 1
		"user_id,65a1b2c3d4e5f60718293a4b,ok,ciso,2026-12-31,",    // 2 fine
		"user_id,,leave,ciso,2026-12-31,",                         // 3 empty user_id
		"user_id,65a1b2c3d4e5f60718293a4c,,ciso,2026-12-31,",      // 4 empty reason
		"user_id,65a1b2c3d4e5f60718293a4d,leave,,2026-12-31,",     // 5 empty approved_by
		"user_id,65a1b2c3d4e5f60718293a4e,leave,ciso,31/12/2026,", // 6 bad date
		"user_id,65a1b2c3d4e5f60718293a4f,leave,ciso,2026-02-30,", // 7 no such day
		"user_id,65a1b2c3d4e5f60718293a50,leave,ciso,,",           // 8 empty date
		"uid,65a1b2c3d4e5f60718293a51,leave,ciso,2026-12-31,",     // 9 unknown id type
		"user_id,65a1b2c3d4e5f60718293a4b,again,ciso,2026-12-31,", // 10 same subject as line 2
		"user_id,65a1b2c3d4e5f60718293a52,leave,ciso",             // 11 field count
		"email,ann@example.com,leave,ciso,2026-12-31,T-1",         // 12 fine
		"user_id,65a1b2c3d4e5f60718293a53,leave,ciso,2026-1-31,",  // 13 not zero-padded
	}, "\n") + "\n"
	_, err := Parse("reg.csv", []byte(text), "user_id")
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *Error", err)
	}
	want := []string{
		"reg.csv line 3: user_id is empty",
		"reg.csv line 4: reason is empty",
		"reg.csv line 5: approved_by is empty",
		`reg.csv line 6: expires "31/12/2026" is not a date YYYY-MM-DD`,
		`reg.csv line 7: expires "2026-02-30" is not a date YYYY-MM-DD`,
		"reg.csv line 8: expires is empty",
		`reg.csv line 9: id_type "uid" is not one of`,
		"reg.csv line 10: the same subject as line 2",
		"reg.csv line 11: 4 fields, the header has 6",
		`reg.csv line 13: expires "2026-1-31" is not a date YYYY-MM-DD`,
	}
	if len(re.Problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(re.Problems), len(want), strings.Join(re.Problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(re.Problems[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, re.Problems[i], w)
		}
	}
	if n := len(re.Unwrap()); n != len(want) {
		t.Fatalf("Unwrap gives %d errors", n)
	}
}

func TestParseHeaderProblems(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"missing column", "id_type,user_id,reason,expires\n", `reg.csv line 1: missing column "approved_by"`},
		{"unknown column", "id_type,user_id,reason,approver,expires\n", `reg.csv line 1: unknown column "approver"`},
		{"repeated column", "id_type,user_id,reason,approved_by,expires,reason\n", `reg.csv line 1: column "reason" appears twice`},
		{"empty file", "", "reg.csv: empty"},
		{"bare quote", "id_type,user_id,reason,approved_by,expires\nuser_id,65a1b2c3d4e5f60718293a4b,say \"hi\",ciso,2026-12-31\n", "reg.csv line 2: column"},
		{"not utf-8", "id_type,user_id,reason,approved_by,expires\nuser_id,x,caf\xe9,ciso,2026-12-31\n", "reg.csv line 2: not UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("reg.csv", []byte(c.text), "user_id")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestParseSameSubjectComparedAsSubjects(t *testing.T) {
	// An empty id_type takes the default type, and white space is trimmed,
	// as for subjects of the source.
	text := "id_type,user_id,reason,approved_by,expires\n" +
		"user_id,65a1b2c3d4e5f60718293a4b,a,ciso,2026-12-31\n" +
		", 65a1b2c3d4e5f60718293a4b ,b,ciso,2026-12-31\n"
	_, err := Parse("reg.csv", []byte(text), "user_id")
	if err == nil || !strings.Contains(err.Error(), "reg.csv line 3: the same subject as line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.csv"), "user_id")
	if err == nil || !strings.Contains(err.Error(), "missing.csv: cannot read the exceptions register") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load(dir, "user_id") // a directory
	if err == nil || !strings.Contains(err.Error(), "cannot read the exceptions register") {
		t.Fatalf("err = %v", err)
	}
	p := filepath.Join(dir, "reg.csv")
	os.WriteFile(p, []byte("id_type,user_id,reason,approved_by,expires\n,65a1b2c3d4e5f60718293a4b,a,b,2026-01-01\n"), 0o600)
	reg, err := Load(p, "user_id")
	if err != nil || reg.Name != p || len(reg.Entries) != 1 {
		t.Fatalf("Load = %+v, %v", reg, err)
	}
}

func TestParseBoundsTheRegister(t *testing.T) {
	var b strings.Builder
	b.WriteString("id_type,user_id,reason,approved_by,expires\n")
	for i := range MaxEntries + 1 {
		b.WriteString("username,u")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(",r,a,2026-01-01\n")
	}
	_, err := Parse("reg.csv", []byte(b.String()), "user_id")
	if err == nil || !strings.Contains(err.Error(), "more than 100000 entries") {
		t.Fatalf("err = %v", err)
	}
}

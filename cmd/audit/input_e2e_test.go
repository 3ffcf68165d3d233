package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// exportServer knows the users of the files in testdata/csv.
func exportServer(t *testing.T) *genauthtest.Server {
	t.Helper()
	srv := genauthtest.NewServer(genauthtest.Options{})
	t.Cleanup(srv.Close)
	srv.AddUsers(
		genauthtest.User{UserID: "63739db5e0c8a1b2c3d4e5f6", Email: "soren@example.com", TOTP: true},
		genauthtest.User{UserID: "63739db5e0c8a1b2c3d4e5f7", SMS: true},
		genauthtest.User{UserID: "63739db5e0c8a1b2c3d4e5f8"},
	)
	return srv
}

// TestSpreadsheetExports audits files as spreadsheet programs export them:
// the ids come out whole, names decoded, and the start log line says how the
// file was read.
func TestSpreadsheetExports(t *testing.T) {
	srv := exportServer(t)
	fixture := func(name string) string { return filepath.Join("..", "..", "testdata", "csv", name) }
	tests := []struct {
		source string
		env    []string
		log    []string // in the "audit started" line
		want   map[string]string
	}{
		{
			source: fixture("semicolon_bom_crlf.csv"),
			log:    []string{"id_column=user_id", "id_type=user_id", "delimiter=;", "encoding=utf-8"},
			want: map[string]string{"63739db5e0c8a1b2c3d4e5f6": "ok Søren Ødegård", "63739db5e0c8a1b2c3d4e5f7": "ok José Núñez",
				"63739db5e0c8a1b2c3d4e5f8": "invalid Zoë"}, // 3 fields, header has 4
		},
		{
			source: fixture("windows1252.csv"),
			env:    []string{"AUDIT_SOURCE_ENCODING=windows-1252"},
			log:    []string{"delimiter=,", "encoding=windows-1252"},
			want:   map[string]string{"63739db5e0c8a1b2c3d4e5f6": "ok Müller", "63739db5e0c8a1b2c3d4e5f7": "ok “Zoë” Ærø"},
		},
		{
			source: fixture("utf16le_bom.csv"),
			log:    []string{"id_type_column=id_type", "default_id_type=user_id", "delimiter=tab", `encoding="utf-16le (byte order mark)"`},
			want:   map[string]string{"63739db5e0c8a1b2c3d4e5f6": "ok 李伟", "soren@example.com": "ok Søren 😀"},
		},
		{
			source: fixture("tab.csv"),
			env:    []string{"AUDIT_CSV_DELIMITER=tab"},
			log:    []string{"delimiter=tab"},
			want:   map[string]string{"63739db5e0c8a1b2c3d4e5f6": "ok Li; Wei", "63739db5e0c8a1b2c3d4e5f7": "ok Tab\tInside"},
		},
		{
			source: writeExportWorkbook(t) + "#Staff",
			log:    []string{"id_column=Login", "sheet=Staff"},
			want:   map[string]string{"63739db5e0c8a1b2c3d4e5f6": "ok Søren", "000123": "not_found Nobody"},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.source), func(t *testing.T) {
			jsonl := filepath.Join(t.TempDir(), "r.jsonl")
			env := append(serverEnv(srv), "AUDIT_SOURCE="+tt.source, "AUDIT_OUTPUT="+jsonl, "AUDIT_RATE=0")
			if strings.Contains(tt.source, ".xlsx") {
				env = append(env, "AUDIT_ID_COLUMN=Login")
			}
			code, log := runAudit(t, append(env, tt.env...), "run")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, log)
			}
			started := logLine(log, "audit started")
			for _, w := range tt.log {
				if !strings.Contains(started, w) {
					t.Errorf("start line %q does not say %s", started, w)
				}
			}
			got := map[string]string{}
			for _, r := range readJSONL(t, jsonl) {
				got[r.UserID] = r.Outcome + " " + r.Attrs["name"]
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("results %q, want %q", got, tt.want)
			}
		})
	}
}

// writeExportWorkbook saves a workbook whose second sheet, Staff, holds a
// header in row 2 and an id 000123 stored as a number formatted 000000.
func writeExportWorkbook(t *testing.T) string {
	f := excelize.NewFile()
	defer f.Close()
	f.NewSheet("Staff")
	f.SetSheetRow("Staff", "A2", &[]any{"Login", "name"})
	f.SetSheetRow("Staff", "A3", &[]any{"63739db5e0c8a1b2c3d4e5f6", "Søren"})
	f.SetSheetRow("Staff", "A4", &[]any{123, "Nobody"})
	style, _ := f.NewStyle(&excelize.Style{CustomNumFmt: new("000000")})
	f.SetCellStyle("Staff", "A4", "A4", style)
	path := filepath.Join(t.TempDir(), "export.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func logLine(log, msg string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, msg) {
			return l
		}
	}
	return ""
}

// TestInvalidBytesBeforeAnyAPICall: a Windows-1252 file read as UTF-8 is
// exit 2 naming the line and AUDIT_SOURCE_ENCODING, with no request sent
// and nothing written.
func TestInvalidBytesBeforeAnyAPICall(t *testing.T) {
	srv := exportServer(t)
	dir := t.TempDir()
	// The bad byte is far down the file, past what the reader buffers.
	var b strings.Builder
	b.WriteString("user_id,name\n")
	for range 5000 {
		b.WriteString("63739db5e0c8a1b2c3d4e5f6,Soren\n")
	}
	b.WriteString("63739db5e0c8a1b2c3d4e5f7,M\xfcller\n")
	src := filepath.Join(dir, "in.csv")
	os.WriteFile(src, []byte(b.String()), 0o600)
	out := filepath.Join(dir, "out")
	code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src,
		"AUDIT_OUTPUT="+filepath.Join(out, "r.jsonl")+","+filepath.Join(out, "r.xlsx")), "run")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, log)
	}
	for _, w := range []string{src + " line 5002", "AUDIT_SOURCE_ENCODING", "windows-1252"} {
		if !strings.Contains(log, w) {
			t.Errorf("log does not say %q:\n%s", w, log)
		}
	}
	if c := srv.Counters(); c.Requests+c.TokenCalls != 0 {
		t.Errorf("%d MFA requests and %d token calls, want none", c.Requests, c.TokenCalls)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
}

// TestInvalidBytesOnStdin: stdin cannot be pre-scanned; bad bytes met
// mid-run stop the run with exit 2, and the subjects already answered are
// written (marked incomplete), none lost.
func TestInvalidBytesOnStdin(t *testing.T) {
	srv := exportServer(t)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "r.jsonl")
	cmd := exec.Command(auditBin, "run")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AUDIT_PROGRESS=never",
		"AUDIT_SOURCE=-", "AUDIT_OUTPUT=" + jsonl, "AUDIT_RATE=0"}, serverEnv(srv)...)
	cmd.Stdin = strings.NewReader("user_id;name\n63739db5e0c8a1b2c3d4e5f6;A\n63739db5e0c8a1b2c3d4e5f7;B\n63739db5e0c8a1b2c3d4e5f8;M\xfcller\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("run: %v, want exit 2\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stdin line 4") || !strings.Contains(out.String(), "AUDIT_SOURCE_ENCODING") {
		t.Errorf("log does not name stdin line 4 and AUDIT_SOURCE_ENCODING:\n%s", out.String())
	}
	res := readJSONL(t, jsonl)
	if len(res) != 2 || res[0].Outcome != "ok" || res[1].Outcome != "ok" {
		t.Errorf("results %+v, want the 2 subjects before the bad line, answered", res)
	}
	if _, err := os.Stat(jsonl + ".incomplete"); err != nil {
		t.Errorf("no incomplete marker: %v", err)
	}
}

// TestNotCSVExit2: files that are not CSV text are exit 2 with the fix.
func TestNotCSVExit2(t *testing.T) {
	srv := exportServer(t)
	dir := t.TempDir()
	xlsxAsCSV := filepath.Join(dir, "users.csv")
	b, _ := os.ReadFile(writeExportWorkbook(t))
	os.WriteFile(xlsxAsCSV, b, 0o600)
	for _, c := range []struct{ source, want string }{
		{xlsxAsCSV, "AUDIT_SOURCE=FILE.xlsx"},
		{filepath.Join("..", "..", "testdata", "csv", "utf16le_nobom.csv"), "AUDIT_SOURCE_ENCODING=utf-16le"},
	} {
		code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+c.source, "AUDIT_OUTPUT="+filepath.Join(dir, "r.jsonl")), "run")
		if code != 2 || !strings.Contains(log, c.want) || !strings.Contains(log, "not a CSV text file") {
			t.Errorf("%s: exit %d, want 2 saying %q\n%s", c.source, code, c.want, log)
		}
	}
	for _, env := range []string{"AUDIT_SOURCE_ENCODING=klingon", "AUDIT_CSV_DELIMITER=|"} {
		code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+xlsxAsCSV, env), "run")
		if name, _, _ := strings.Cut(env, "="); code != 2 || !strings.Contains(log, name) {
			t.Errorf("%s: exit %d, want 2 naming the variable\n%s", env, code, log)
		}
	}
}

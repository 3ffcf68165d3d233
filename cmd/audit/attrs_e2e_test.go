package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// trickyValues are attribute values that a trimming or "helpful" reader
// would change: formula-like, tab/CR/space-padded, unicode, line breaks.
var trickyValues = []string{
	"\t=1+2", "=1+2", " +86 136 9485 8601 ", "\r-2\r", "@SUM(A1)", "Søren Ødegård", "李伟 📱",
	"a\nb", "  ", "\u00a0nbsp\u00a0", `x"y`, "\t", "Sales",
}

// TestAttributesByteForByte: attributes from a CSV file and from a workbook
// reach JSON Lines and Postgres byte for byte, and come back unchanged
// through `audit report` both ways (Postgres to JSON Lines, JSON Lines to
// Postgres).
func TestAttributesByteForByte(t *testing.T) {
	db := pgtest.New(t)
	srv := genauthtest.NewServer(genauthtest.Options{})
	defer srv.Close()
	dir := t.TempDir()
	id := func(i int) string { return fmt.Sprintf("63739db5e0c8a1b2c3d4%04x", i) }

	var csvText strings.Builder
	csvText.WriteString("user_id,department\r\n")
	for i, v := range trickyValues {
		q := v
		if strings.ContainsAny(v, ",\"\r\n") {
			q = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		fmt.Fprintf(&csvText, "%s,%s\r\n", id(i), q) // "\t=1+2" unquoted, as exported
	}
	csvPath := filepath.Join(dir, "users.csv")
	os.WriteFile(csvPath, []byte(csvText.String()), 0o600)

	wb := excelize.NewFile()
	wb.SetCellStr("Sheet1", "A1", "user_id")
	wb.SetCellStr("Sheet1", "B1", "department")
	for i, v := range trickyValues {
		wb.SetCellStr("Sheet1", fmt.Sprintf("A%d", i+2), id(i))
		wb.SetCellStr("Sheet1", fmt.Sprintf("B%d", i+2), v)
	}
	xlsxPath := filepath.Join(dir, "users.xlsx")
	if err := wb.SaveAs(xlsxPath); err != nil {
		t.Fatal(err)
	}
	wb.Close()

	check := func(t *testing.T, where string, got map[string]string) {
		t.Helper()
		for i, v := range trickyValues {
			if g, ok := got[id(i)]; !ok || g != v {
				t.Errorf("%s: %s department %q, want %q", where, id(i), g, v)
			}
		}
	}
	fromPG := func(t *testing.T, runID string) map[string]string {
		t.Helper()
		rows, err := db.Pool.Query(context.Background(), "SELECT user_id, attrs->>'department' FROM "+db.Quoted()+".results WHERE run_id = $1", runID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var u, d string
			if err := rows.Scan(&u, &d); err != nil {
				t.Fatal(err)
			}
			out[u] = d
		}
		return out
	}
	fromJSONL := func(t *testing.T, path string) map[string]string {
		out := map[string]string{}
		for _, r := range readJSONL(t, path) {
			out[r.UserID] = r.Attrs["department"]
		}
		return out
	}
	for _, src := range []string{csvPath, xlsxPath} {
		kind := filepath.Ext(src)[1:]
		t.Run(kind, func(t *testing.T) {
			jsonl := filepath.Join(dir, kind+".jsonl")
			runID := "bytes-" + kind
			code, log := runAudit(t, append(serverEnv(srv), "AUDIT_SOURCE="+src, "AUDIT_RATE=0", "AUDIT_RUN_ID="+runID,
				"AUDIT_PG_SCHEMA="+db.Schema, "AUDIT_OUTPUT="+jsonl+","+db.URL, "AUDIT_GROUP_BY=department"), "run")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, log)
			}
			check(t, "JSON Lines", fromJSONL(t, jsonl))
			check(t, "Postgres", fromPG(t, runID))

			back := filepath.Join(dir, kind+"-from-pg.jsonl")
			if code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + db.URL, "AUDIT_RUN_ID=" + runID, "AUDIT_PG_SCHEMA=" + db.Schema,
				"AUDIT_OUTPUT=" + back}, "report"); code != 0 {
				t.Fatalf("report from Postgres: exit %d\n%s", code, log)
			}
			check(t, "Postgres → JSON Lines", fromJSONL(t, back))
			if code, log := runAudit(t, []string{"AUDIT_REPORT_FROM=" + jsonl, "AUDIT_RUN_ID=" + runID + "-migrated", "AUDIT_PG_SCHEMA=" + db.Schema,
				"AUDIT_OUTPUT=" + db.URL}, "report"); code != 0 {
				t.Fatalf("report from JSON Lines: exit %d\n%s", code, log)
			}
			check(t, "JSON Lines → Postgres", fromPG(t, runID+"-migrated"))
		})
	}
}

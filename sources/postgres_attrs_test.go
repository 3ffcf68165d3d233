package sources

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mfa-audit/mfa-audit/internal/pgtest"
)

// TestPostgresAttributesByteForByte: a query's text values are attributes
// byte for byte; only the id and its type are trimmed. The layout names the
// columns for the start log line.
func TestPostgresAttributesByteForByte(t *testing.T) {
	db := pgtest.New(t)
	want := []string{"\t=1+2", " +86 136 9485 8601 ", "\r-2\r", "李伟 📱", "a\nb", "  "}
	var values []string
	for i, v := range want {
		e := strings.NewReplacer(`\`, `\\`, "'", `\'`, "\t", `\t`, "\r", `\r`, "\n", `\n`).Replace(v)
		values = append(values, fmt.Sprintf("(%d, E'%s')", i, e))
	}
	src, err := OpenPostgres(context.Background(), db.URL, `SELECT ' 63739db5e0c8a1b2c3d4e5f6 ' AS user_id, ' email ' AS kind, v AS department
		FROM (VALUES `+strings.Join(values, ", ")+`) AS t(i, v) ORDER BY i`,
		PostgresOptions{IDTypeColumn: "kind"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if l := src.Layout(); l.IDColumn != "user_id" || l.IDTypeColumn != "kind" || l.DefaultIDType != "user_id" {
		t.Errorf("Layout() = %+v", l)
	}
	for i, w := range want {
		sub, err := src.Next(context.Background())
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if got, _ := sub.Attrs.Get("department"); got != w || sub.UserID != "63739db5e0c8a1b2c3d4e5f6" || sub.IDType != "email" {
			t.Errorf("row %d: department %q (want %q), id %q, type %q", i+1, got, w, sub.UserID, sub.IDType)
		}
	}
}

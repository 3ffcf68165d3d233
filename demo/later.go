package demo

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// Later is how the demo pool has changed a month after the first audit:
// genauthtest.DefaultLater (factors changed, users deleted, joiners).
var Later = genauthtest.DefaultLater

// LaterInput returns the HR export as it is after l: the rows naming a
// deleted user (by any of its identifiers) are gone, and every joiner has
// a row of its own (user_id, department of the pool record).
func LaterInput(l genauthtest.Later) []byte {
	gone := map[string]bool{}
	users := Users()
	for _, u := range users {
		if !l.Deletes(u) {
			continue
		}
		for _, id := range append([]string{u.UserID, u.Username, u.Email, u.Phone, u.ExternalID}, append(u.Identities, u.SyncRelations...)...) {
			if id != "" {
				gone[strings.ToLower(id)] = true
			}
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(usersCSV)).ReadAll()
	if err != nil || len(rows) < 2 {
		panic(fmt.Sprintf("demo/users.csv is broken: %v", err)) // embedded at build time
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(rows[0])
	for _, r := range rows[1:] {
		if !gone[strings.ToLower(strings.TrimSpace(r[0]))] {
			w.Write(r)
		}
	}
	later := l.Apply(users)
	for _, j := range later[len(later)-joiners(l, len(users)):] {
		dept := ""
		if len(j.DepartmentIDs) > 0 {
			dept = j.DepartmentIDs[0]
		}
		w.Write([]string{j.UserID, "user_id", "New joiner " + strings.TrimPrefix(j.Username, "joiner"), dept, "", ""})
	}
	w.Flush()
	return b.Bytes()
}

func joiners(l genauthtest.Later, n int) int { return int(float64(n)*l.Joined + 0.5) }

// Backdate rewrites the dates of a results file written today as if it had
// been written on day: the demo's first audit stands for last month's.
// Only the dates of checked_at and non_compliant_since change.
func Backdate(path string, day time.Time) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	today := time.Now().UTC().Format("2006-01-02")
	then := day.UTC().Format("2006-01-02")
	s := strings.ReplaceAll(string(b), `"checked_at":"`+today, `"checked_at":"`+then)
	s = strings.ReplaceAll(s, `"non_compliant_since":"`+today, `"non_compliant_since":"`+then)
	return os.WriteFile(path, []byte(s), 0o600)
}

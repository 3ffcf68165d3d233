// Package demo holds the embedded sample that `audit demo` audits: a user
// pool of 400 people across ten departments (pool.csv, served by the fake
// GenAuth server) and an HR export naming them by all seven id types, with
// the usual findings: duplicates, people who left, a typo, a blank id and
// an unknown id type (users.csv). Regenerate both with
// `go run demo/generate.go`.
package demo

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

//go:embed pool.csv
var poolCSV []byte

//go:embed users.csv
var usersCSV []byte

// Input returns the demo's audit input, a CSV file.
func Input() []byte { return usersCSV }

// Users returns the demo pool's users with their MFA bindings.
func Users() []genauthtest.User {
	rows, err := csv.NewReader(bytes.NewReader(poolCSV)).ReadAll()
	if err != nil || len(rows) < 2 {
		panic(fmt.Sprintf("demo/pool.csv is broken: %v", err)) // embedded at build time
	}
	users := make([]genauthtest.User, 0, len(rows)-1)
	for _, r := range rows[1:] {
		users = append(users, genauthtest.User{
			UserID:        r[0],
			Username:      r[1],
			Email:         r[2],
			Phone:         r[3],
			ExternalID:    r[4],
			Identities:    []string{r[5]},
			SyncRelations: []string{r[6]},
			DepartmentIDs: []string{r[7]},
			TOTP:          r[8] == "true",
			Face:          r[9] == "true",
			SMS:           r[10] == "true",
			EmailMFA:      r[11] == "true",
			Legacy:        r[12] == "true",
		})
	}
	return users
}

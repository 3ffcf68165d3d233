package sinks

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// Helpers for the print and accessibility tests: a run like the one people
// print, with five extra columns beside the usual attributes.

// wideAttrNames are the attribute columns of a wide run: department (the
// group-by) and five more, as a real HR export carries.
var wideAttrNames = []string{"department", "employee_number", "desk_phone", "cost_centre", "manager_email", "location"}

func wideRun() pipeline.RunInfo {
	run := reportRun()
	run.RunID = "20260302T090000Z-w1de"
	run.AttrNames = wideAttrNames
	run.Policy = pipeline.PolicyStrong
	return run
}

// wideResults returns n results of a wide run: every outcome, long
// identifiers and error texts, and a distinctive value in every column so
// that a printed page can be checked for each one.
func wideResults(n int) []pipeline.Result {
	depts := []string{"Finance", "Engineering", "Sales", "Legal", "Customer Operations"}
	locs := []string{"Shanghai", "Shenzhen", "Beijing", "Singapore"}
	out := make([]pipeline.Result, 0, n)
	for i := range n {
		r := pipeline.Result{
			UserID: fmt.Sprintf("w%05d", i),
			IDType: "user_id",
			Attrs: pipeline.Attrs{
				{Key: "department", Value: depts[i%len(depts)]},
				{Key: "employee_number", Value: fmt.Sprintf("EMP-%06d", 100000+i)},
				{Key: "desk_phone", Value: fmt.Sprintf("+86 21 6%03d %04d", i%1000, 1000+i%9000)},
				{Key: "cost_centre", Value: fmt.Sprintf("CC-%04d", 4000+i%37)},
				{Key: "manager_email", Value: fmt.Sprintf("manager.%03d@corp.example", i%211)},
				{Key: "location", Value: "Loc-" + locs[i%len(locs)]},
			},
			Attempts:  1 + i%3,
			CheckedAt: reportStart.Add(time.Duration(i) * 700 * time.Millisecond),
			Line:      int64(i + 2),
		}
		switch i % 10 {
		case 0, 1, 2, 3:
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(true), bp(false), bp(i%2 == 0), bp(false)
		case 4, 5:
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(false), bp(false), bp(true), bp(false)
		case 6:
			r.Outcome, r.TOTP, r.Face, r.SMS, r.Email = pipeline.OutcomeOK, bp(false), bp(false), bp(false), bp(false)
		case 7:
			r.Outcome = pipeline.OutcomeNotFound
			r.Error = "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, requestId req-" + strconv.Itoa(i) + ", 1 attempt)"
			r.APICode = "2004"
			r.RequestID = "req-" + strconv.Itoa(i) + "-8d2f6c1e0b7a4"
		case 8:
			r.Outcome = pipeline.OutcomeInvalid
			r.IDType = "email"
			r.UserID = fmt.Sprintf("not-an-email-%05d", i)
			r.Error = "identifier malformed for its type email"
			r.CheckedAt = time.Time{}
			r.Attempts = 0
		case 9:
			r.Outcome = pipeline.OutcomeError
			r.Error = "no answer after 6 attempts: HTTP 503 Service Unavailable"
			r.RequestID = "req-" + strconv.Itoa(i) + "-5e1d9a"
			r.Attempts = 6
		}
		r.Classify(pipeline.PolicyStrong)
		out = append(out, r)
	}
	return out
}

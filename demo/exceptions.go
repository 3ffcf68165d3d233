package demo

import (
	"strings"
	"time"
)

// Exceptions returns the demo's exceptions register (SPEC 14), with expiry
// dates relative to now so that every state shows whenever the demo runs:
// two active entries, one expiring within 30 days, one expired, one
// unneeded (the user has MFA), and two stale ones (a leaver GenAuth does
// not know, and a subject the export does not list).
func Exceptions(now time.Time) []byte {
	day := func(days int) string { return now.UTC().AddDate(0, 0, days).Format("2006-01-02") }
	rows := [][]string{
		{"id_type", "user_id", "reason", "approved_by", "expires", "ticket"},
		{"user_id", "6e80038cf1d31b19363a991f", "Shared service account for the HR sync; hardware key on order", "ciso@example.com", day(120), "SEC-1042"},
		{"email", "ines.zhao23@example.com", "Works from a site where phones are not allowed", "ciso@example.com", day(200), "SEC-1057"},
		{"user_id", "6cf9e38faae9081c112cc26f", "Parental leave; enrols on return", "head.of.engineering@example.com", day(12), "HR-311"},
		{"user_id", "67ca747c1f87dbc166862127", "Break-glass admin, reviewed quarterly", "ciso@example.com", day(-20), "SEC-0977"},
		{"email", "jonas.garcia5@example.com", "Lost phone, temporary waiver", "it.helpdesk@example.com", day(5), "IT-5521"},
		{"user_id", "600000001e515eaeb494e997", "Contractor finishing a handover", "sales.director@example.com", day(30), ""},
		{"username", "build.bot", "CI robot account, token auth only", "ciso@example.com", day(90), "SEC-1003"},
	}
	var b strings.Builder
	for _, r := range rows {
		for i, f := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			if strings.ContainsAny(f, ",\"\n") {
				f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
			b.WriteString(f)
		}
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

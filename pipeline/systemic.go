package pipeline

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/mfa-audit/mfa-audit/genauth"
)

// SystemicSample is how many of a run's first API answers decide whether
// the run is doomed. 50 is enough that a few scattered failures in a healthy
// run (a 2 % share of 403s gives all 50 the same failure with a chance of
// 0.02^50) never stop it, and few enough that a run that cannot succeed (a
// key without permission, a wrong host, a column of e-mails audited as
// user_id) stops within seconds at any AUDIT_RATE, instead of asking a
// million users for fourteen hours.
const SystemicSample = 50

// systemicShare is the share of the sample that must be not_found/invalid,
// and look like one other id type, for the id-type hint to stop the run:
// "nearly all", leaving room for a few ids that happen to exist.
const systemicShare = 0.9

// SystemicError stops a run whose first SystemicSample answers show that
// it cannot succeed. It is the stop reason of Run (errors.As finds it) and
// is not errInterrupted: the run counts as failed.
type SystemicError struct {
	Answers int    // API answers seen when the run was stopped
	Cause   string // what is wrong, in words, with the API's codes
	Fix     string // what to change
}

func (e *SystemicError) Error() string {
	return "stopped early after the first " + strconv.Itoa(e.Answers) + " answers: " + e.Cause + "; fix: " + e.Fix
}

// systemic watches the first SystemicSample answers of a run from the
// workers (it is safe for concurrent use) and decides once whether to stop.
// Answers taken from an earlier attempt and subjects rejected locally are
// not API answers and are not shown to it.
type systemic struct {
	mu      sync.Mutex
	n       int  // answers seen, at most SystemicSample
	ok      int  // ok answers among them
	same    bool // every answer so far failed with the signature of the first
	first   *genauth.Error
	nfInv   int            // not_found or invalid answers
	looks   map[string]int // not_found/invalid ids that look like another id type, by that type
	idType  map[string]int // id types of the not_found/invalid answers
	decided bool
	stop    *SystemicError
}

// observe counts one API answer: err is nil for ok, else the client's
// error. It returns the reason to stop when this answer decides it.
func (d *systemic) observe(idType, userID string, outcome Outcome, err error) *SystemicError {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.decided {
		return nil
	}
	d.n++
	var ge *genauth.Error
	errors.As(err, &ge)
	switch {
	case outcome == OutcomeOK:
		d.ok++
		d.same = false
	case d.n == 1:
		d.first, d.same = ge, systemicClass(ge)
	case d.same:
		d.same = sameFailure(d.first, ge)
	}
	if outcome == OutcomeNotFound || outcome == OutcomeInvalid {
		d.nfInv++
		if d.looks == nil {
			d.looks, d.idType = map[string]int{}, map[string]int{}
		}
		d.idType[idType]++
		if t := looksLike(idType, userID); t != "" {
			d.looks[t]++
		}
	}
	need := int(systemicShare * SystemicSample)
	if !d.same && d.n-d.nfInv > SystemicSample-need {
		d.decided = true // neither rule can hold any more
		return nil
	}
	if d.n < SystemicSample {
		return nil
	}
	d.decided = true
	switch {
	case d.same:
		d.stop = failureStop(d.n, d.first)
	case d.nfInv >= need:
		d.stop = d.idTypeStop(need)
	}
	return d.stop
}

// result returns the reason to stop, if the check found one.
func (d *systemic) result() *SystemicError {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stop
}

// systemicClass reports whether e is a failure that would repeat for every
// user: not a transient one (retries used up) and not a finding.
func systemicClass(e *genauth.Error) bool {
	return e != nil && (e.Class == genauth.ClassFatal || e.Class == genauth.ClassEndpoint)
}

func sameFailure(a, b *genauth.Error) bool {
	return systemicClass(b) && a.Class == b.Class && a.HTTPStatus == b.HTTPStatus &&
		a.StatusCode == b.StatusCode && a.APICode == b.APICode
}

// failureStop explains a run whose every answer failed like e.
func failureStop(n int, e *genauth.Error) *SystemicError {
	codes := failureCodes(e)
	switch {
	case e.Class == genauth.ClassEndpoint:
		return &SystemicError{Answers: n,
			Cause: "every get-user-mfa-info call was answered by something other than the GenAuth API (" + codes +
				"): GENAUTH_HOST or a proxy's path prefix is wrong",
			Fix: "set GENAUTH_HOST to the API's base URL without a path (https://api.genauth.ai, or the root of a private deployment) and check any proxy in between"}
	case e.StatusCode == http.StatusForbidden || e.HTTPStatus == http.StatusForbidden:
		return &SystemicError{Answers: n,
			Cause: "the access key lacks permission for get-user-mfa-info (" + codes + ")",
			Fix: "grant the access key (GENAUTH_ACCESS_KEY_ID) permission to read users' MFA information in the GenAuth console, " +
				"or use the user pool's own ID and secret"}
	}
	msg := e.Message
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &SystemicError{Answers: n,
		Cause: "every get-user-mfa-info call failed the same way: " + msg + " (" + codes + ")",
		Fix:   "look the code up in the GenAuth documentation or ask its support; asking the other users would fail the same way"}
}

func failureCodes(e *genauth.Error) string {
	var parts []string
	if e.APICode != "" {
		parts = append(parts, "apiCode "+e.APICode)
	}
	if e.StatusCode != 0 {
		parts = append(parts, "statusCode "+strconv.Itoa(e.StatusCode))
	}
	if e.HTTPStatus != 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(e.HTTPStatus))
	}
	return strings.Join(parts, ", ")
}

// idTypeStop explains a run whose answers are nearly all not_found or
// invalid, when the identifiers look like another id type; nil when they
// do not (then the findings may be true: people who left).
func (d *systemic) idTypeStop(need int) *SystemicError {
	best, n := "", 0
	for t, c := range d.looks {
		if c > n || c == n && t < best {
			best, n = t, c
		}
	}
	if n < need {
		return nil
	}
	given, gn := "", 0
	for t, c := range d.idType {
		if c > gn || c == gn && t < given {
			given, gn = t, c
		}
	}
	h := idTypeHints[best]
	return &SystemicError{Answers: d.n,
		Cause: fmt.Sprintf("%d of the first %d subjects were not found or invalid, and their identifiers, audited as %s, look like %s",
			d.nfInv, d.n, given, h.what),
		Fix: h.fix}
}

var idTypeHints = map[string]struct{ what, fix string }{
	"email": {"e-mail addresses",
		"set AUDIT_ID_TYPE=email (or give the file an id_type column, AUDIT_ID_TYPE_COLUMN, saying email)"},
	"phone": {"phone numbers",
		"set AUDIT_ID_TYPE=phone (or give the file an id_type column, AUDIT_ID_TYPE_COLUMN, saying phone)"},
	"identity": {"external identities (<extIdpId>:<userIdInIdp>)",
		"set AUDIT_ID_TYPE=identity (or sync_relation for <provider>:<id> forms such as lark:ou_...)"},
	"sync_relation": {"synchronised accounts (<provider>:<userIdInIdp>, or a bare ou_/on_ id)",
		"set AUDIT_ID_TYPE=sync_relation, with ids written <provider>:<id> (lark:ou_...); identity takes <extIdpId>:<userIdInIdp>"},
	"username": {"usernames or external ids, not GenAuth user ids (24 hexadecimal characters)",
		"set AUDIT_ID_TYPE=username or AUDIT_ID_TYPE=external_id, whichever the column holds (or an id_type column)"},
}

// looksLike returns the id type that id looks like when it is not idType,
// or "": an @ means email; digits with an optional + and separators mean
// phone; <prefix>:<id> means identity (a hexadecimal prefix, an IdP id) or
// sync_relation; a bare ou_/on_ id (Lark) means sync_relation; any other
// user_id that is not 24 hexadecimal characters means username (or
// external_id).
func looksLike(idType, id string) string {
	var t string
	switch {
	case strings.Contains(id, "@"):
		t = "email"
	case looksLikePhone(id):
		t = "phone"
	case strings.Contains(id, ":"):
		prefix, rest, _ := strings.Cut(id, ":")
		if prefix == "" || rest == "" {
			return ""
		}
		t = "sync_relation"
		if len(prefix) >= 8 && isHex(prefix) {
			t = "identity"
		}
	case strings.HasPrefix(id, "ou_") || strings.HasPrefix(id, "on_"):
		t = "sync_relation"
	case idType == "user_id" && !(len(id) == 24 && isHex(id)):
		t = "username"
	}
	if t == idType || t == "username" && idType == "external_id" {
		return ""
	}
	return t
}

// looksLikePhone: 7 to 15 digits written as a phone number (a leading +,
// or spaces, dashes, brackets), or 11 or more bare digits (a mobile number);
// a short bare number is more likely an employee number.
func looksLikePhone(s string) bool {
	plus := strings.HasPrefix(s, "+")
	s = strings.TrimPrefix(s, "+")
	digits, seps := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-' || c == '(' || c == ')':
			seps++
		default:
			return false
		}
	}
	if digits > 15 || digits < 7 {
		return false
	}
	return plus || seps > 0 || digits >= 11
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

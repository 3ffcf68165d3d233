package genauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// errMalformed marks an answer the client could not make sense of: not
// JSON, truncated, without statusCode, or with values of the wrong kind. Such
// an answer is retried like a 5xx.
var errMalformed = errors.New("malformed answer")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// envelope is the frame of every V3 answer.
type envelope struct {
	StatusCode int
	HasStatus  bool // statusCode was present and a number
	Message    string
	APICode    string
	RequestID  string
	Data       json.RawMessage // nil when absent or null
}

// rawEnvelope is the frame of an answer before its values are read.
type rawEnvelope struct {
	StatusCode json.RawMessage `json:"statusCode"`
	Message    json.RawMessage `json:"message"`
	APICode    json.RawMessage `json:"apiCode"`
	RequestID  json.RawMessage `json:"requestId"`
	Data       json.RawMessage `json:"data"`
}

// scan fills e from b with scanObject; false means: use encoding/json.
func (e *rawEnvelope) scan(b []byte) bool {
	fields := [...]struct {
		name string
		dst  *json.RawMessage
	}{{"statusCode", &e.StatusCode}, {"message", &e.Message}, {"apiCode", &e.APICode}, {"requestId", &e.RequestID}, {"data", &e.Data}}
	return scanFields(b, fields[:])
}

// scanFields walks object b and stores the raw values of the named members.
// It reports false when b is not an object it can walk or a key might
// match a name only as encoding/json folds case.
func scanFields(b []byte, fields []struct {
	name string
	dst  *json.RawMessage
}) bool {
	sure := true
	ok := scanObject(b, func(key, val []byte) {
		for _, f := range fields {
			equal, ambiguous := exactKey(key, f.name)
			if equal {
				*f.dst = val
			}
			sure = sure && !ambiguous
		}
	})
	return ok && sure
}

// decodeEnvelope reads the frame of an answer. It never fails on a field of
// an unexpected kind except statusCode, which decides everything else.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return env, malformed("empty body")
	}
	if trimmed[0] != '{' {
		return env, malformed("not a JSON object (%d bytes)", len(body))
	}
	var raw rawEnvelope
	if !raw.scan(trimmed) {
		raw = rawEnvelope{}
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return env, malformed("invalid JSON (%d bytes): %v", len(body), jsonErrText(err))
		}
	}
	if n, ok, err := flexInt(raw.StatusCode); err != nil {
		return env, malformed("statusCode: %v", err)
	} else if ok {
		env.StatusCode, env.HasStatus = n, true
	}
	env.Message = flexString(raw.Message)
	env.APICode = flexString(raw.APICode)
	env.RequestID = flexString(raw.RequestID)
	if !isNull(raw.Data) {
		env.Data = raw.Data
	}
	return env, nil
}

// jsonErrText describes a JSON error without quoting the input (which, for
// the token exchange, may hold the token).
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: unexpected %s", te.Field, te.Value)
	}
	if strings.Contains(err.Error(), "unexpected end of JSON input") {
		return "truncated"
	}
	return "invalid"
}

// plainString returns the text of a JSON string token without escapes
// without calling the decoder (the answers' strings almost never have
// any). t comes from a document json.Unmarshal already accepted.
func plainString(t []byte) (string, bool) {
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' || bytes.IndexByte(t, '\\') >= 0 || !utf8.Valid(t) {
		return "", false // escapes, or invalid UTF-8 that the decoder replaces
	}
	return string(t[1 : len(t)-1]), true
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// flexInt reads a JSON integer that may come as a number or as a string of
// digits. ok is false when raw is absent or null.
func flexInt(raw json.RawMessage) (n int, ok bool, err error) {
	if isNull(raw) {
		return 0, false, nil
	}
	f, ok, err := flexFloat(raw)
	if err != nil || !ok {
		return 0, ok, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false, fmt.Errorf("not an integer: %s", short(raw))
	}
	return int(f), true, nil
}

// flexFloat reads a JSON number that may come as a number or a string.
func flexFloat(raw json.RawMessage) (f float64, ok bool, err error) {
	if isNull(raw) {
		return 0, false, nil
	}
	t := bytes.TrimSpace(raw)
	s := string(t)
	if t[0] == '"' {
		if err := json.Unmarshal(t, &s); err != nil {
			return 0, false, fmt.Errorf("bad string: %s", short(raw))
		}
		s = strings.TrimSpace(s)
	}
	f, err = strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, fmt.Errorf("not a number: %s", short(raw))
	}
	return f, true, nil
}

// flexString renders a scalar as text: a string as itself, a number or a
// boolean as its JSON text, null or absent as "". Objects and arrays are
// kept as compact JSON: a message of an odd shape is still worth showing.
func flexString(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	t := bytes.TrimSpace(raw)
	if s, ok := plainString(t); ok {
		return s
	}
	if t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) == nil {
		return buf.String()
	}
	return string(t)
}

// short quotes at most 40 bytes of a raw value for an error message.
func short(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) > 40 {
		return strconv.Quote(string(t[:40])) + "..."
	}
	return string(t)
}

// mfaData is the data of a get-user-mfa-info answer.
type mfaData struct {
	TOTP  json.RawMessage `json:"totpStatus"`
	Face  json.RawMessage `json:"faceMfaStatus"`
	SMS   json.RawMessage `json:"smsMfaStatus"`
	Email json.RawMessage `json:"emailMfaStatus"`
}

// decodeMFA reads the four statuses. A missing or null status is nil; any
// value other than "enabled", "disabled", true or false (strings compared
// case-insensitively, "true" and "false" accepted as strings) is an error.
func decodeMFA(data json.RawMessage) (MFAInfo, error) {
	var info MFAInfo
	if isNull(data) {
		return info, malformed("success without data")
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return info, malformed("data is not an object")
	}
	var d mfaData
	members := [...]struct {
		name string
		dst  *json.RawMessage
	}{{"totpStatus", &d.TOTP}, {"faceMfaStatus", &d.Face}, {"smsMfaStatus", &d.SMS}, {"emailMfaStatus", &d.Email}}
	if !scanFields(data, members[:]) {
		d = mfaData{}
		if err := json.Unmarshal(data, &d); err != nil {
			return info, malformed("data: %v", jsonErrText(err))
		}
	}
	fields := []struct {
		name string
		raw  json.RawMessage
		dst  **bool
	}{
		{"totpStatus", d.TOTP, &info.TOTP},
		{"faceMfaStatus", d.Face, &info.Face},
		{"smsMfaStatus", d.SMS, &info.SMS},
		{"emailMfaStatus", d.Email, &info.Email},
	}
	for _, f := range fields {
		v, err := parseStatus(f.raw)
		if err != nil {
			return MFAInfo{}, malformed("%s: %v", f.name, err)
		}
		*f.dst = v
	}
	return info, nil
}

// parseStatus reads one MFA status.
func parseStatus(raw json.RawMessage) (*bool, error) {
	if isNull(raw) {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	var v bool
	switch {
	case string(t) == "true":
		v = true
	case string(t) == "false":
		v = false
	case t[0] == '"':
		s, ok := plainString(t)
		if !ok {
			if err := json.Unmarshal(t, &s); err != nil {
				return nil, fmt.Errorf("bad string %s", short(raw))
			}
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "enabled", "true":
			v = true
		case "disabled", "false":
			v = false
		default:
			return nil, fmt.Errorf("unexpected value %s", short(raw))
		}
	default:
		return nil, fmt.Errorf("unexpected value %s", short(raw))
	}
	return &v, nil
}

// decodeToken reads the data of a get-management-token answer. expiresIn is
// 0 when the answer does not say.
func decodeToken(data json.RawMessage) (token string, expiresIn time.Duration, err error) {
	if isNull(data) {
		return "", 0, malformed("success without data")
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return "", 0, malformed("data is not an object")
	}
	var d struct {
		AccessToken json.RawMessage `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "", 0, malformed("data: %v", jsonErrText(err))
	}
	if t := bytes.TrimSpace(d.AccessToken); len(t) > 0 && t[0] == '"' {
		_ = json.Unmarshal(t, &token) // on error token stays ""
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", 0, malformed("no access_token in the answer")
	}
	secs, ok, err := flexFloat(d.ExpiresIn)
	if err != nil {
		return "", 0, malformed("expires_in: %v", err)
	}
	if ok && secs > 0 {
		if secs > 10*365*24*3600 { // nonsense; the JWT or the default decides
			secs = 0
		}
		expiresIn = time.Duration(secs * float64(time.Second))
	}
	return token, expiresIn, nil
}

// decodeUsers reads the data of a list-users answer. Fields of an odd kind
// (a number where a string was expected, null) are tolerated.
func decodeUsers(data json.RawMessage) ([]User, int, error) {
	if isNull(data) {
		return nil, 0, malformed("success without data")
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return nil, 0, malformed("data is not an object")
	}
	var d struct {
		TotalCount json.RawMessage   `json:"totalCount"`
		List       []json.RawMessage `json:"list"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, 0, malformed("data: %v", jsonErrText(err))
	}
	total, _, err := flexInt(d.TotalCount)
	if err != nil {
		return nil, 0, malformed("totalCount: %v", err)
	}
	users := make([]User, 0, len(d.List))
	for i, raw := range d.List {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return nil, 0, malformed("list[%d] is not an object", i)
		}
		var r struct {
			UserID        json.RawMessage   `json:"userId"`
			Username      json.RawMessage   `json:"username"`
			Email         json.RawMessage   `json:"email"`
			Phone         json.RawMessage   `json:"phone"`
			Status        json.RawMessage   `json:"status"`
			ExternalID    json.RawMessage   `json:"externalId"`
			DepartmentIDs []json.RawMessage `json:"departmentIds"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, 0, malformed("list[%d]: %v", i, jsonErrText(err))
		}
		u := User{
			UserID:     flexString(r.UserID),
			Username:   flexString(r.Username),
			Email:      flexString(r.Email),
			Phone:      flexString(r.Phone),
			Status:     flexString(r.Status),
			ExternalID: flexString(r.ExternalID),
		}
		for _, dep := range r.DepartmentIDs {
			if s := flexString(dep); s != "" {
				u.DepartmentIDs = append(u.DepartmentIDs, s)
			}
		}
		users = append(users, u)
	}
	return users, total, nil
}

// verdict is what to do with one HTTP answer.
type verdict int

const (
	verdictOK           verdict = iota // success: read data
	verdictRetry                       // transient: retry after a backoff
	verdictUnauthorized                // token rejected: refresh once and retry
	verdictFinal                       // a final error of class judgement.class
)

// judgement is the classification of one HTTP answer.
type judgement struct {
	verdict   verdict
	class     Class // for verdictFinal
	throttled bool  // a 429, HTTP or body
	endpoint  bool  // ClassEndpoint: the answer's content type is worth naming
	message   string
}

// classify judges an answer by its HTTP status and, for a 2xx, by the
// statusCode of its body (the V3 API answers HTTP 200 for almost
// everything). A gateway's own non-2xx answer decides by its HTTP status,
// whatever its body. envErr is the error of decodeEnvelope, if any.
func classify(httpStatus int, env envelope, envErr error) judgement {
	if httpStatus < 200 || httpStatus > 299 {
		if j, ok := classifyClientError(httpStatus, env, envErr); ok {
			return j
		}
		j := classifyCode(httpStatus, env.APICode)
		if j.message == "" {
			j.message = env.Message
		}
		if j.message == "" {
			j.message = strings.ToLower(http.StatusText(httpStatus))
		}
		return j
	}
	if envErr != nil {
		return judgement{verdict: verdictRetry, message: envErr.Error()}
	}
	if !env.HasStatus {
		return judgement{verdict: verdictRetry, message: malformed("no statusCode").Error()}
	}
	if env.StatusCode == 200 {
		return judgement{verdict: verdictOK}
	}
	j := classifyCode(env.StatusCode, env.APICode)
	if j.message == "" {
		j.message = env.Message
	}
	if j.message == "" {
		j.message = "statusCode " + strconv.Itoa(env.StatusCode)
	}
	return j
}

// classifyClientError judges an HTTP 400, 404, 405 or 422. Only a GenAuth
// envelope (a JSON object with a numeric statusCode; for an HTTP 404,
// apiCode 2004 or a requestId too) may say that a user is not found or an
// argument invalid; any other body (an HTML page, an
// empty body, JSON of another shape) came from something else in front of
// the API, a proxy or a wrong path, and is ClassEndpoint. A 405 is always
// ClassEndpoint: the path or method is wrong, not the user. ok is false
// for other statuses.
func classifyClientError(httpStatus int, env envelope, envErr error) (judgement, bool) {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity:
	default:
		return judgement{}, false
	}
	genuine := envErr == nil && env.HasStatus
	if genuine && httpStatus != http.StatusMethodNotAllowed {
		code := env.StatusCode
		switch {
		case env.APICode == "2004", env.APICode == "2224",
			// A 404 envelope without apiCode says "no such user" only with
			// a requestId: GenAuth's own answers carry one, a web
			// framework's "Cannot GET /wrong/path" 404 does not.
			code == http.StatusNotFound && (httpStatus != http.StatusNotFound || env.RequestID != ""),
			code == http.StatusBadRequest, code == http.StatusUnprocessableEntity:
			j := classifyCode(code, env.APICode)
			if code != http.StatusNotFound && env.APICode == "2004" {
				j = judgement{verdict: verdictFinal, class: ClassNotFound}
			}
			if j.message == "" {
				j.message = env.Message
			}
			if j.message == "" {
				j.message = strings.ToLower(http.StatusText(httpStatus))
			}
			return j, true
		}
	}
	what := "HTTP " + strconv.Itoa(httpStatus) + " " + strings.ToLower(http.StatusText(httpStatus))
	if genuine {
		what += " with statusCode " + strconv.Itoa(env.StatusCode)
	}
	return judgement{verdict: verdictFinal, class: ClassEndpoint, endpoint: true,
		message: what + ": check GENAUTH_HOST and its path prefix"}, true
}

// classifyCode judges a non-success status code (HTTP or body).
func classifyCode(code int, apiCode string) judgement {
	switch {
	case code == http.StatusUnauthorized:
		return judgement{verdict: verdictUnauthorized}
	case code == http.StatusTooManyRequests:
		return judgement{verdict: verdictRetry, throttled: true}
	case code == http.StatusRequestTimeout, code >= 500 && code <= 599:
		return judgement{verdict: verdictRetry}
	case apiCode == "2224":
		// The user pool does not exist: every call would say so.
		return judgement{verdict: verdictFinal, class: ClassAuth, message: "user pool not found"}
	case code == http.StatusNotFound:
		return judgement{verdict: verdictFinal, class: ClassNotFound}
	case code == http.StatusBadRequest, code == http.StatusUnprocessableEntity:
		if apiCode == "2004" {
			return judgement{verdict: verdictFinal, class: ClassNotFound}
		}
		return judgement{verdict: verdictFinal, class: ClassInvalid}
	case code >= 300 && code <= 399:
		return judgement{verdict: verdictFinal, class: ClassFatal, message: "unexpected redirect (HTTP " + strconv.Itoa(code) + ")"}
	}
	// 403 and every other status: retrying will not help.
	return judgement{verdict: verdictFinal, class: ClassFatal}
}

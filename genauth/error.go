package genauth

import (
	"errors"
	"strconv"
	"strings"
)

// Operation names, as they appear in Error.Op.
const (
	opToken     = "get-management-token"
	opMFAInfo   = "get-user-mfa-info"
	opListUsers = "list-users"
)

// format renders e as
// "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, 1 attempt)".
// The underlying error is added after the message when it says something the
// message does not. Nothing in an Error holds the secret or the token, so
// format needs no redaction of its own.
func (e *Error) format() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(classText(e.Class))
	msg := e.Message
	if e.Err != nil {
		es := e.Err.Error()
		switch {
		case msg == "":
			msg = es
		case !strings.Contains(msg, es):
			msg += ": " + es
		}
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}

	var details []string
	if e.APICode != "" {
		details = append(details, "apiCode "+e.APICode)
	}
	if e.StatusCode != 0 {
		details = append(details, "statusCode "+strconv.Itoa(e.StatusCode))
	}
	if e.HTTPStatus != 0 {
		details = append(details, "HTTP "+strconv.Itoa(e.HTTPStatus))
	}
	if e.RequestID != "" {
		details = append(details, "requestId "+e.RequestID)
	}
	if e.Attempts > 0 {
		s := strconv.Itoa(e.Attempts) + " attempt"
		if e.Attempts != 1 {
			s += "s"
		}
		details = append(details, s)
	}
	if len(details) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(details, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// classText is the class as words for messages ("not found", not "not_found").
func classText(c Class) string {
	if c == ClassEndpoint {
		return "not the GenAuth API"
	}
	return strings.ReplaceAll(c.String(), "_", " ")
}

// ErrorClass returns the Class of err when it is (or wraps) an *Error, and 0
// otherwise.
func ErrorClass(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}

// canceledError reports the caller's own cancellation. It is an *Error so
// that every error of the Client has one type, and it wraps ctxErr so that
// errors.Is(err, context.Canceled) (or DeadlineExceeded) holds.
func canceledError(op string, attempts int, ctxErr error) *Error {
	return &Error{Class: ClassRetryable, Op: op, Attempts: attempts, Err: ctxErr}
}

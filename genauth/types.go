// Package genauth is a client for the GenAuth (Authing) V3 management API as
// this project uses it: the management token, get-user-mfa-info and
// list-users. See ../shared/genauth-api.md for the wire protocol.
//
// One Client is shared by all workers: it holds one token (refreshed ahead
// of expiry and once on a 401, one exchange at a time), one rate limiter
// (lowered on sustained 429s, raised back on success) and a cap on the
// requests in flight. Retries with backoff happen inside the Client, and a
// retry waits outside the in-flight slot.
package genauth

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Class is how a failed call is classified.
type Class int

const (
	// ClassNotFound: the API says there is no such user: a GenAuth envelope
	// with a 404-class statusCode or apiCode 2004, under HTTP 200 or a JSON
	// HTTP 404. An HTTP 404 of another body is ClassEndpoint.
	ClassNotFound Class = iota + 1
	// ClassInvalid: the API rejected the argument: a GenAuth envelope with a
	// 400 / 422 class statusCode. An HTTP 400 of another body is ClassEndpoint.
	ClassInvalid
	// ClassRetryable: 429, 5xx, timeouts, resets, undecodable answers; the
	// Client returns it only once the retries are used up.
	ClassRetryable
	// ClassFatal: another API error that retrying will not fix (403, unknown
	// statusCode): the subject's state is unknown.
	ClassFatal
	// ClassAuth: the credentials were refused (token exchange failed, or a
	// 401 again after one refresh). The run cannot go on.
	ClassAuth
	// ClassEndpoint: the answer did not come from the GenAuth API: an HTTP
	// 4xx (404, 405, 400, ...) whose body is not a GenAuth JSON envelope
	// (an HTML page, nothing, JSON of another shape), as a proxy or a wrong
	// path prefix in GENAUTH_HOST gives. It says nothing about the user;
	// the subject's state is unknown and retrying will not help.
	ClassEndpoint
)

func (c Class) String() string {
	switch c {
	case ClassNotFound:
		return "not_found"
	case ClassInvalid:
		return "invalid"
	case ClassRetryable:
		return "retryable"
	case ClassFatal:
		return "fatal"
	case ClassAuth:
		return "auth"
	case ClassEndpoint:
		return "endpoint"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Error is every error the Client returns for an API call. It never holds
// the secret or the token.
type Error struct {
	Class      Class
	Op         string // "get-user-mfa-info", "get-management-token", "list-users"
	HTTPStatus int    // 0 when no HTTP answer arrived
	StatusCode int    // the body's statusCode, 0 when absent
	APICode    string // the body's apiCode (number or string on the wire)
	Message    string // the body's message, or a short description
	RequestID  string
	Attempts   int
	Err        error // underlying transport or decode error, if any
}

// Error reads like
// "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, 1 attempt)".
func (e *Error) Error() string { return e.format() }

func (e *Error) Unwrap() error { return e.Err }

// MFAInfo is a user's MFA binding state. A nil field was not reported.
type MFAInfo struct {
	TOTP      *bool
	Face      *bool
	SMS       *bool
	Email     *bool
	RequestID string
	Attempts  int // HTTP attempts made, retries included
}

// User is one record of list-users.
type User struct {
	UserID        string   `json:"userId"`
	Username      string   `json:"username"`
	Email         string   `json:"email"`
	Phone         string   `json:"phone"`
	Status        string   `json:"status"`
	ExternalID    string   `json:"externalId"`
	DepartmentIDs []string `json:"departmentIds"`
}

// Sort is one key of a list-users order (the SDKs' SortingDto): Field is
// e.g. "createdAt", Order "asc" or "desc".
type Sort struct {
	Field string `json:"field"`
	Order string `json:"order"`
}

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	Host            string // base URL, e.g. https://api.genauth.ai (no trailing slash needed)
	AccessKeyID     string // user pool ID or collaborator key
	AccessKeySecret string
	TenantID        string // sent as x-authing-app-tenant-id when set

	Rate        float64       // requests per second ceiling across all workers; 0 = none
	Concurrency int           // requests in flight at most; default 8
	Timeout     time.Duration // per HTTP attempt; default 10s
	Retries     int           // retries after the first attempt; default 5 (negative: 0)
	// MaxRetryAfter caps a server's Retry-After and the backoff; default 30s.
	MaxRetryAfter time.Duration
	// AllowHTTP permits a plain-http Host that is not loopback.
	AllowHTTP bool
	// UserAgent names this tool and version, e.g. "mfa-audit/1.2.0".
	UserAgent string
	// Transport replaces the default transport (tests); TLS is verified
	// by the default one.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Stats are counters of a Client's traffic since it was made.
type Stats struct {
	Requests       int64   // HTTP attempts to get-user-mfa-info and list-users
	Retries        int64   // attempts after the first
	Throttled      int64   // 429 answers (HTTP or body)
	TokenExchanges int64   // successful get-management-token calls
	CurrentRate    float64 // the limiter's rate now (0 = none)
	InFlight       int64
}

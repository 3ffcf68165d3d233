package genauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "documented example",
			err: &Error{Class: ClassNotFound, Op: opMFAInfo, HTTPStatus: 200, StatusCode: 404,
				APICode: "2004", Message: "user does not exist", Attempts: 1},
			want: "get-user-mfa-info: not found: user does not exist (apiCode 2004, statusCode 404, HTTP 200, 1 attempt)",
		},
		{
			name: "underlying error after the message, plural attempts, request id",
			err: &Error{Class: ClassRetryable, Op: opMFAInfo, Message: "transport error",
				RequestID: "r-9", Attempts: 6, Err: io.ErrUnexpectedEOF},
			want: "get-user-mfa-info: retryable: transport error: unexpected EOF (requestId r-9, 6 attempts)",
		},
		{
			name: "underlying error alone",
			err:  &Error{Class: ClassRetryable, Op: opListUsers, Err: context.Canceled},
			want: "list-users: retryable: context canceled",
		},
		{
			name: "message already holds the underlying error",
			err:  &Error{Class: ClassFatal, Op: opToken, Message: "boom: unexpected EOF", Err: io.ErrUnexpectedEOF, HTTPStatus: 403},
			want: "get-management-token: fatal: boom: unexpected EOF (HTTP 403)",
		},
		{
			name: "bare class",
			err:  &Error{Class: ClassAuth},
			want: "auth",
		},
		{
			name: "unknown class",
			err:  &Error{Class: Class(42), Message: "x"},
			want: "Class(42): x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestErrorClassAndUnwrap(t *testing.T) {
	e := canceledError(opMFAInfo, 2, context.Canceled)
	wrapped := fmt.Errorf("subject u1: %w", e)
	if got := ErrorClass(wrapped); got != ClassRetryable {
		t.Errorf("ErrorClass = %v, want retryable", got)
	}
	if !errors.Is(wrapped, context.Canceled) {
		t.Error("errors.Is(err, context.Canceled) = false")
	}
	if got := ErrorClass(io.EOF); got != 0 {
		t.Errorf("ErrorClass(io.EOF) = %v, want 0", got)
	}
	var nilErr *Error
	if got := nilErr.format(); got != "<nil>" {
		t.Errorf("nil format = %q", got)
	}
}

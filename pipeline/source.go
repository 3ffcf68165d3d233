package pipeline

import (
	"context"
	"io"
)

// Source yields subjects one at a time, in input order.
//
// Next returns io.EOF after the last subject. Any other error is fatal for
// the run; it names where the input went wrong (file, line, column). Next is
// called from one goroutine. Close is called once, after the last Next.
type Source interface {
	Next(ctx context.Context) (Subject, error)
	// AttrNames lists the attribute columns in source order, known once the
	// source is open (CSV header, SQL result columns). Subjects carry their
	// attributes in this order.
	AttrNames() []string
	// Describe names the source for reports without credentials
	// (a file path, a URL with its password removed, "genauth:users").
	Describe() string
	// Total is the number of rows if known in advance, else -1.
	Total() int64
	Close() error
}

// EOF is the sentinel Source.Next returns at the end of input.
var EOF = io.EOF

// Reconciler is implemented by a source that can tell, once read to the
// end, whether it yielded everything it should have (the whole pool checks
// its listing against totalCount). Run calls Reconcile once, after the
// source returned EOF; a non-nil error makes the run incomplete (not
// failed) with the error's text as the reason.
type Reconciler interface {
	Reconcile() error
}

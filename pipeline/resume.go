package pipeline

import "context"

// Prior holds the results of an earlier attempt of the same run (resume).
//
// Lookup returns the stored result of s when it has a final outcome
// (Outcome.Final); found is false for subjects never answered or answered
// with OutcomeError, which are asked again. The pipeline calls Lookup from
// its workers concurrently, before any API call for s.
type Prior interface {
	Lookup(ctx context.Context, s Subject) (r Result, found bool, err error)
}

// ResultSource yields stored results (a JSON Lines file, a Postgres run) for
// `audit report`, in input order. Next returns EOF after the last one.
type ResultSource interface {
	// Run describes the stored run; RunInfo.AttrNames lists the attributes.
	Run() RunInfo
	Next(ctx context.Context) (Result, error)
	// Stored says whether the stored run was complete and, if not, why.
	Stored() (complete bool, incomplete string)
	Close() error
}

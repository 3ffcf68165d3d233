package sources

import (
	"context"
	"fmt"
	"strings"

	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// UserLister pages through a user pool in the order sort asks;
// *genauth.Client is one.
type UserLister interface {
	ListUsers(ctx context.Context, page, limit int, sort ...genauth.Sort) (users []genauth.User, total int, err error)
}

// PoolPageSize is the list-users page size (the API's maximum).
const PoolPageSize = 50

// poolAttrs are the attributes a whole-pool subject carries.
var poolAttrs = []string{"username", "email", "phone", "status", "department_ids"}

// PoolSort is the order the whole pool is listed in: creation time, then
// user id, fields that do not change, so that pages do not shift while the
// listing goes on (the API's own order, search-backed, is not stable).
// PoolSortFallback drops the id when the API refuses to sort by it.
var (
	PoolSort         = []genauth.Sort{{Field: "createdAt", Order: "asc"}, {Field: "userId", Order: "asc"}}
	PoolSortFallback = []genauth.Sort{{Field: "createdAt", Order: "asc"}}
)

// Pool yields every user of the pool (AUDIT_SOURCE=genauth:users) by paging
// through list-users in a stable order (PoolSort), one page in memory at a
// time. It implements pipeline.Source and pipeline.Reconciler.
//
// Before each page after the first it reads the one user before that
// page (limit 1): when it is not the last user of the page before, users
// were removed meanwhile and the pages shifted, so that page is read again
// (users listed already are passed over: every user is yielded once).
//
// It records totalCount at the start (the first page) and at the end (the
// last page) and counts the unique users it listed (about 18 bytes a
// user). Reconcile, after the last page, reports the listing incomplete
// when it met fewer unique users than the smaller of the two counts (SPEC
// 4): users added or removed while it paged can shift offset pages, and an
// API that caps how deep offset paging goes ends a listing early. A page
// the API refuses fails the run (Next returns the error): a listing never
// ends quietly.
type Pool struct {
	api  UserLister
	sort []genauth.Sort
	page int // next page to fetch, from 1
	buf  []genauth.User
	row  int64
	done bool

	totalStart, totalEnd int
	listed               *pipeline.KeySet
	last                 string // the last user id of the last page read
	shifts               int    // pages read again because the pages shifted
	lost                 string // why users may have been skipped, if so
	cutShort             string // why the listing ended before totalCount, if it did
}

var _ pipeline.Source = (*Pool)(nil)
var _ pipeline.Reconciler = (*Pool)(nil)

// OpenPool fetches the first page, so that an API failure surfaces before
// the run starts and Total is known. When the API refuses PoolSort as an
// invalid argument it asks again with PoolSortFallback.
func OpenPool(ctx context.Context, api UserLister) (*Pool, error) {
	p := &Pool{api: api, page: 1, sort: PoolSort, totalStart: -1, listed: pipeline.NewKeySet()}
	err := p.fetch(ctx)
	if genauth.ErrorClass(err) == genauth.ClassInvalid {
		p.sort = PoolSortFallback
		err = p.fetch(ctx)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pool) fetch(ctx context.Context) error {
	users, total, err := p.api.ListUsers(ctx, p.page, PoolPageSize, p.sort...)
	if err != nil {
		return p.refused(p.page, err)
	}
	offset := (p.page - 1) * PoolPageSize
	if p.page > 1 {
		// Is the user before this page still the last one of the page
		// before? If users before it were removed meanwhile, the pages
		// shifted and this one starts past users never listed: read the
		// page before again (users already listed are passed over).
		probe, _, err := p.api.ListUsers(ctx, offset, 1, p.sort...)
		if err != nil {
			return p.refused(p.page, err)
		}
		if len(probe) != 1 || probe[0].UserID != p.last {
			again, _, err := p.api.ListUsers(ctx, p.page-1, PoolPageSize, p.sort...)
			if err != nil {
				return p.refused(p.page-1, err)
			}
			p.shifts++
			if p.totalEnd-total > PoolPageSize && p.lost == "" {
				p.lost = fmt.Sprintf("totalCount fell from %d to %d between pages %d and %d, more than a page holds",
					p.totalEnd, total, p.page-1, p.page)
			}
			users = append(again, users...)
		}
	}
	if p.totalStart < 0 {
		p.totalStart = total
	}
	p.totalEnd = total
	page := users[max(0, len(users)-PoolPageSize):] // this page, without a page read again
	if len(page) > 0 {
		p.last = page[len(page)-1].UserID
	}
	p.page++
	p.buf = users
	switch {
	case len(page) < PoolPageSize:
		p.done = true
		if offset+len(page) < total {
			p.cutShort = fmt.Sprintf("page %d held %d users where totalCount %d promised %d (does the API cap how deep paging goes?)",
				p.page-1, len(page), total, min(PoolPageSize, total-offset))
		}
	case offset+len(page) >= total:
		p.done = true
	}
	return nil
}

// refused wraps the error of a list-users request for page.
func (p *Pool) refused(page int, err error) error {
	if page > 1 && genauth.ErrorClass(err) != genauth.ClassAuth {
		first := (page-1)*PoolPageSize + 1
		return fmt.Errorf("genauth:users: list-users refused page %d (users %d to %d of %d): %w; "+
			"the listing cannot be completed (an API that caps how deep paging goes refuses such pages)",
			page, first, first+PoolPageSize-1, p.totalEnd, err)
	}
	return fmt.Errorf("genauth:users: listing page %d: %w", page, err)
}

// Next returns the next user of the pool as a user_id subject.
func (p *Pool) Next(ctx context.Context) (pipeline.Subject, error) {
	for len(p.buf) == 0 {
		if p.done {
			return pipeline.Subject{}, pipeline.EOF
		}
		if err := p.fetch(ctx); err != nil {
			return pipeline.Subject{}, err
		}
	}
	u := p.buf[0]
	p.buf = p.buf[1:]
	if !p.listed.Add(pipeline.KeyOf("user_id", strings.TrimSpace(u.UserID))) {
		return p.Next(ctx) // listed already: a page read again, or pages that moved
	}
	p.row++
	return pipeline.Subject{
		UserID: u.UserID,
		IDType: "user_id",
		Line:   p.row,
		Attrs: pipeline.Attrs{
			{Key: "username", Value: u.Username},
			{Key: "email", Value: u.Email},
			{Key: "phone", Value: u.Phone},
			{Key: "status", Value: u.Status},
			{Key: "department_ids", Value: strings.Join(u.DepartmentIDs, ";")},
		},
	}, nil
}

// Reconcile compares the unique users listed with totalCount at the start
// and at the end (SPEC 4): fewer than the smaller of the two is an error
// saying so, with both counts.
func (p *Pool) Reconcile() error {
	want := min(p.totalStart, p.totalEnd)
	got := p.listed.Len()
	if got >= int64(want) && p.lost == "" {
		return nil
	}
	why := "users added or removed while it paged shift the pages"
	switch {
	case p.cutShort != "":
		why = p.cutShort
	case p.lost != "":
		why = p.lost
	}
	if got >= int64(want) {
		return fmt.Errorf("genauth:users listed %d unique users (totalCount %d at the start, %d at the end), but %s: "+
			"users may have been skipped, run again", got, p.totalStart, p.totalEnd, why)
	}
	return fmt.Errorf("genauth:users listed %d unique users, fewer than the pool holds (totalCount %d at the start, %d at the end): "+
		"%s; %d or more users were not audited, run again", got, p.totalStart, p.totalEnd, why, int64(want)-got)
}

// Counts returns totalCount at the start and at the end of the listing
// (the end moves with every page), the unique users listed so far and how
// many pages were read again because the pages had shifted.
func (p *Pool) Counts() (start, end int, listed int64, shifts int) {
	return p.totalStart, p.totalEnd, p.listed.Len(), p.shifts
}

// Sort is the order the listing asked for.
func (p *Pool) Sort() []genauth.Sort { return p.sort }

func (p *Pool) AttrNames() []string { return poolAttrs }
func (p *Pool) Describe() string    { return "genauth:users" }
func (p *Pool) Total() int64        { return int64(p.totalStart) }
func (p *Pool) Close() error        { return nil }

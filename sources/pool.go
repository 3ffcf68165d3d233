package sources

import (
	"context"
	"fmt"
	"strings"

	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/pipeline"
)

// UserLister pages through a user pool; *genauth.Client is one.
type UserLister interface {
	ListUsers(ctx context.Context, page, limit int) (users []genauth.User, total int, err error)
}

// PoolPageSize is the list-users page size (the API's maximum).
const PoolPageSize = 50

// poolAttrs are the attributes a whole-pool subject carries.
var poolAttrs = []string{"username", "email", "phone", "status", "department_ids"}

// Pool yields every user of the pool (AUDIT_SOURCE=genauth:users) by paging
// through list-users, one page in memory at a time. It implements
// pipeline.Source. Users added or removed while it pages may be missed or
// met twice; the pipeline's de-duplication absorbs the latter.
type Pool struct {
	api   UserLister
	page  int // next page to fetch, from 1
	buf   []genauth.User
	total int
	row   int64
	done  bool
}

var _ pipeline.Source = (*Pool)(nil)

// OpenPool fetches the first page, so that an API failure surfaces before
// the run starts and Total is known.
func OpenPool(ctx context.Context, api UserLister) (*Pool, error) {
	p := &Pool{api: api, page: 1, total: -1}
	if err := p.fetch(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pool) fetch(ctx context.Context) error {
	users, total, err := p.api.ListUsers(ctx, p.page, PoolPageSize)
	if err != nil {
		return fmt.Errorf("genauth:users: listing page %d: %w", p.page, err)
	}
	p.total = total
	p.page++
	p.buf = users
	if len(users) < PoolPageSize || int64(p.page-1)*PoolPageSize >= int64(total) {
		p.done = true
	}
	return nil
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

func (p *Pool) AttrNames() []string { return poolAttrs }
func (p *Pool) Describe() string    { return "genauth:users" }
func (p *Pool) Total() int64        { return int64(p.total) }
func (p *Pool) Close() error        { return nil }

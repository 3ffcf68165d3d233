package genauthtest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ListBehaviour are the switches of list-users, for tests of a whole-pool
// listing that must be complete or say it is not.
type ListBehaviour struct {
	// UnstableOrder: without a sort in the request, every page is cut from
	// a new order of the users (as a search-backed listing without a sort
	// gives no order guarantee), so paging skips some users and repeats
	// others. A request with a sort is served in that order.
	UnstableOrder bool
	// AddPerPage users are created, and RemovePerPage of the oldest users
	// deleted, after each page served: a pool that changes while it is
	// listed, so offset pages shift and totalCount moves.
	AddPerPage, RemovePerPage int
	// MaxWindow > 0 caps how deep offset paging goes, as search engines do
	// (10,000 is a common default): a page reaching past it is refused with
	// statusCode 400, or with MaxWindowQuiet answered with an empty list.
	MaxWindow      int
	MaxWindowQuiet bool
	// NoIDSort refuses a sort on userId (statusCode 400), as a server
	// accepting only the SDKs' documented sort fields would.
	NoIDSort bool
}

// sortFields are the sort fields list-users accepts: the SDKs'
// SortingDto.field values the fake can order by, and userId.
var sortFields = []string{"createdAt", "updatedAt", "email", "phone", "username", "externalId", "status", "userId"}

// listSort is one key of a list-users order.
type listSort struct {
	Field string `json:"field"`
	Order string `json:"order"`
}

// checkSort returns why the sort is refused, or "".
func (b *ListBehaviour) checkSort(sort []listSort) string {
	for _, k := range sort {
		if !slices.Contains(sortFields, k.Field) || (b.NoIDSort && k.Field == "userId") {
			return fmt.Sprintf("invalid argument: sort field %s", plain(k.Field))
		}
		if o := strings.ToLower(k.Order); o != "asc" && o != "desc" {
			return fmt.Sprintf("invalid argument: sort order %s (want asc or desc)", plain(k.Order))
		}
	}
	return ""
}

// plain keeps the letters, digits and _.- of s (at most 40): safe to put
// in a message as it is.
func plain(s string) string {
	b := make([]byte, 0, min(len(s), 40))
	for i := 0; i < len(s) && len(b) < 40; i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b = append(b, c)
		}
	}
	return string(b)
}

func sortValue(u *User, field string) string {
	switch field {
	case "userId":
		return u.UserID
	case "email":
		return u.Email
	case "phone":
		return u.Phone
	case "username":
		return u.Username
	case "externalId":
		return u.ExternalID
	case "status":
		return u.Status
	}
	return ""
}

// listPage serves users [off, off+n) of the listing and the total, in the
// order asked, applying the ListBehaviour switches. seq numbers the
// requests (the unstable order's seed).
func (s *Server) listPage(b *ListBehaviour, sort []listSort, off, n int, seq uint64) (users []*User, total int, refuse string) {
	if b.MaxWindow > 0 && off+n > b.MaxWindow {
		if !b.MaxWindowQuiet {
			_, total = s.dir.page(0, 0)
			return nil, total, fmt.Sprintf("Result window is too large, from + size must be less than or equal to: [%d]", b.MaxWindow)
		}
		n = max(0, b.MaxWindow-off)
	}
	byCreation := len(sort) > 0 && sort[0].Field == "createdAt" && strings.EqualFold(sort[0].Order, "asc") &&
		(len(sort) == 1 || len(sort) == 2 && sort[1].Field == "userId" && strings.EqualFold(sort[1].Order, "asc"))
	if len(sort) == 0 && !b.UnstableOrder || byCreation && s.dir.inCreationOrder() {
		users, total = s.dir.page(off, n) // the directory's own order is the one asked
		return users, total, ""
	}
	all, total := s.dir.page(0, int(^uint(0)>>1))
	if len(sort) > 0 {
		slices.SortStableFunc(all, func(x, y *User) int {
			for _, k := range sort {
				var c int
				if k.Field == "createdAt" || k.Field == "updatedAt" {
					c = x.CreatedAt.Compare(y.CreatedAt)
				} else {
					c = strings.Compare(sortValue(x, k.Field), sortValue(y, k.Field))
				}
				if strings.EqualFold(k.Order, "desc") {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	} else {
		key := func(u *User) uint64 { return mix(subjectHash(u.UserID, "") ^ seq*0x9e3779b97f4a7c15) }
		slices.SortFunc(all, func(x, y *User) int { return cmp.Compare(key(x), key(y)) })
	}
	if off < len(all) {
		users = all[off:min(off+n, len(all))]
	}
	return users, total, ""
}

// churn adds and removes users after a page, per ListBehaviour.
func (s *Server) churn(b *ListBehaviour) {
	for range b.AddPerPage {
		n := s.added.Add(1)
		s.dir.add(User{UserID: fmt.Sprintf("ad%022x", n), Username: fmt.Sprintf("added%d", n)})
	}
	for range b.RemovePerPage {
		s.dir.removeOldest()
	}
}

// SetListBehaviour replaces the list-users switches; safe while serving.
func (s *Server) SetListBehaviour(b ListBehaviour) { s.list.Store(&b) }

// removeOldest deletes the user created first.
func (d *directory) removeOldest() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.users) == 0 {
		return
	}
	i := 0
	for j, u := range d.users {
		if u.CreatedAt.Before(d.users[i].CreatedAt) {
			i = j
		}
	}
	old := d.users[i]
	old.keys(func(t int, id string) { d.index[t].CompareAndDelete(id, old) })
	d.users = slices.Delete(d.users, i, i+1)
	d.byID = make(map[string]int, len(d.users))
	for j, u := range d.users {
		if u.UserID != "" {
			d.byID[u.UserID] = j
		}
	}
}

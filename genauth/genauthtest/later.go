package genauthtest

import (
	"fmt"
	"slices"
)

// Later describes the same pool some time later, for tests and the demo of
// change over time: a deterministic share of users have different factors,
// some are deleted, some joined. The zero Seed is a valid seed.
type Later struct {
	Changed float64 // share of users whose MFA factors change
	Deleted float64 // share of users deleted from the pool
	Joined  float64 // users who joined, as a share of the pool
	Seed    uint64
}

// DefaultLater is a month of churn: 15 % changed, 3 % deleted, 5 % joined.
var DefaultLater = Later{Changed: 0.15, Deleted: 0.03, Joined: 0.05, Seed: 1}

// How a changed user's factors change (LaterChange).
const (
	LaterLosesAll  = "loses every factor"
	LaterBindsTOTP = "binds TOTP"
	LaterWeakens   = "drops TOTP and face, keeps or binds SMS"
)

// draw is a number in [0,1) fixed by the seed, the user and the salt.
func (l Later) draw(u *User, salt uint64) float64 {
	h := subjectHash("later", u.UserID+"\x00"+u.Username+"\x00"+u.Email)
	return unit(mix(h ^ (l.Seed+1)*0x9e3779b97f4a7c15 ^ salt*0xda942042e4dd58b5))
}

// Deletes reports whether u is deleted later.
func (l Later) Deletes(u User) bool { return l.draw(&u, 1) < l.Deleted }

// Change returns how u's factors change later: "" when they do not, else
// one of LaterLosesAll, LaterBindsTOTP, LaterWeakens.
func (l Later) Change(u User) string {
	if l.Deletes(u) || l.draw(&u, 2) >= l.Changed {
		return ""
	}
	switch d := l.draw(&u, 3); {
	case d < 1.0/3:
		return LaterLosesAll
	case d < 2.0/3:
		return LaterBindsTOTP
	}
	return LaterWeakens
}

// Apply returns users as they are later, in the same order with the
// deleted ones removed and the joiners at the end. Joiners have a
// GenAuth-shaped user id (24 hex digits), a username, an e-mail address,
// the department of an existing user and random factors; the first
// existing user's department when there is none.
func (l Later) Apply(users []User) []User {
	out := make([]User, 0, len(users)+int(float64(len(users))*l.Joined)+1)
	for _, u := range users {
		if l.Deletes(u) {
			continue
		}
		v := u
		v.Identities, v.SyncRelations, v.DepartmentIDs = slices.Clone(u.Identities), slices.Clone(u.SyncRelations), slices.Clone(u.DepartmentIDs)
		switch l.Change(u) {
		case LaterLosesAll:
			v.TOTP, v.Face, v.SMS, v.EmailMFA = false, false, false, false
		case LaterBindsTOTP:
			v.TOTP = true
		case LaterWeakens:
			v.TOTP, v.Face, v.SMS = false, false, true
		}
		out = append(out, v)
	}
	n := int(float64(len(users))*l.Joined + 0.5)
	for i := range n {
		h := mix(l.Seed*0x9e3779b97f4a7c15 ^ uint64(i+1)*0xbf58476d1ce4e5b9)
		j := User{
			UserID:   fmt.Sprintf("%08x%016x", uint32(h>>32)^0x6a6f696e, h),
			Username: fmt.Sprintf("joiner%04d", i+1),
			Email:    fmt.Sprintf("joiner%04d@example.com", i+1),
		}
		if len(users) > 0 {
			j.DepartmentIDs = slices.Clone(users[int(h%uint64(len(users)))].DepartmentIDs)
		}
		j.TOTP, j.SMS = l.draw(&j, 4) < 0.5, l.draw(&j, 5) < 0.3
		out = append(out, j)
	}
	return out
}

// ServeLater replaces the directory with l.Apply of the current one: the
// same pool, later. Meant for between two runs; lookups racing with it see
// either directory.
func (s *Server) ServeLater(l Later) {
	users := l.Apply(s.Users())
	s.dir.reset(users)
}

// reset empties the directory and adds users in order.
func (d *directory) reset(users []User) {
	d.mu.Lock()
	d.users, d.byID = nil, nil
	for i := range d.index {
		d.index[i].Clear()
	}
	d.mu.Unlock()
	for _, u := range users {
		d.add(u)
	}
}

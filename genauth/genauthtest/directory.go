package genauthtest

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// User is one user of the fake directory. Every non-empty identifier is
// indexed for its userIdType: UserID (user_id), Username (username), Email
// (email), Phone (phone), ExternalID (external_id), each of Identities
// (identity, "<extIdpId>:<userIdInIdp>") and each of SyncRelations
// (sync_relation, "<provider>:<userIdInIdp>", e.g. "lark:ou_x").
// E-mail addresses are matched case-insensitively, as the API matches them;
// every other identifier exactly.
type User struct {
	UserID        string
	Username      string
	Email         string
	Phone         string
	ExternalID    string
	Identities    []string
	SyncRelations []string
	Status        string // list-users "status"; default "Activated"
	DepartmentIDs []string
	// CreatedAt orders list-users by creation; default: a millisecond
	// after the user added before it (a replaced user keeps its time).
	CreatedAt time.Time

	// MFA bindings.
	TOTP, Face, SMS, EmailMFA bool
	// Legacy users answer as older servers did: only totpStatus and
	// faceMfaStatus are reported; smsMfaStatus and emailMfaStatus are
	// omitted for some users and null for others (decided by UserID).
	Legacy bool
}

// The userIdType values, in the order genauth-api.md lists them.
const (
	typeUserID = iota
	typePhone
	typeEmail
	typeUsername
	typeExternalID
	typeIdentity
	typeSyncRelation
	numIDTypes
)

func idTypeIndex(t string) int {
	switch t {
	case "user_id":
		return typeUserID
	case "phone":
		return typePhone
	case "email":
		return typeEmail
	case "username":
		return typeUsername
	case "external_id":
		return typeExternalID
	case "identity":
		return typeIdentity
	case "sync_relation":
		return typeSyncRelation
	}
	return -1
}

// WellFormed reports whether the server accepts userID as a value of
// idType, that is whether it would not answer 400 "参数 userId 格式错误".
// Rules: idType is one of the seven known types; the id is not blank; an
// email contains '@'; a phone matches ^\+?[0-9][0-9 -]{4,}$; identity and
// sync_relation are "<a>:<b>" with both parts non-empty.
func WellFormed(idType, userID string) bool {
	t := idTypeIndex(idType)
	return t >= 0 && wellFormed(t, userID)
}

func wellFormed(t int, id string) bool {
	if strings.TrimSpace(id) == "" {
		return false
	}
	switch t {
	case typeEmail:
		return strings.IndexByte(id, '@') >= 0
	case typePhone:
		return phoneOK(id)
	case typeIdentity, typeSyncRelation:
		i := strings.IndexByte(id, ':')
		return i > 0 && i < len(id)-1
	}
	return true
}

// phoneOK matches ^\+?[0-9][0-9 -]{4,}$ without a regexp.
func phoneOK(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 5 || s[0] < '0' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != ' ' && c != '-' {
			return false
		}
	}
	return true
}

// SynthesizedState is the answer a Server with Options.Synthesize gives for
// a well-formed (idType, userID) that is not in its directory. A user_id
// that is not shaped like a GenAuth id (IsGenAuthID) is not found, as the
// real API answers. Otherwise the state is derived from an FNV-1a hash of
// idType, a NUL byte and userID: about 4 % of ids are not found; of the
// others about 55 % have TOTP bound, 10 % face, 30 % SMS and 20 % e-mail,
// independently. Synthesized users always report all four factors. Tests
// use it to compute the expected outcome of any id.
func SynthesizedState(idType, userID string) (found, totp, face, sms, email bool) {
	if idType == "user_id" && !IsGenAuthID(userID) {
		return false, false, false, false, false
	}
	return synthesized(subjectHash(idType, userID))
}

// synthesized derives a state from h = subjectHash(idType, userID), the
// FNV-1a 64 hash of idType, NUL, userID.
func synthesized(h uint64) (found, totp, face, sms, email bool) {
	u := func(salt uint64) float64 { return unit(mix(h ^ salt*0x9e3779b97f4a7c15)) }
	if u(1) < 0.04 {
		return false, false, false, false, false
	}
	return true, u(2) < 0.55, u(3) < 0.10, u(4) < 0.30, u(5) < 0.20
}

// directory holds the users in insertion order (for list-users) and one
// index per id type. Lookups are lock-free (sync.Map); writers serialize on
// mu.
type directory struct {
	mu sync.Mutex
	// created is how many users were added, for default creation times;
	// unordered is set once a user was created no later than the last.
	created   int64
	unordered bool
	users     []*User // insertion order; replaced users keep their position
	byID      map[string]int
	index     [numIDTypes]sync.Map // id -> *User
}

func (d *directory) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.users)
}

// keys calls f for every (type, id) under which u is indexed.
func (u *User) keys(f func(t int, id string)) {
	one := func(t int, id string) {
		if id != "" {
			f(t, id)
		}
	}
	one(typeUserID, u.UserID)
	one(typePhone, u.Phone)
	one(typeEmail, strings.ToLower(u.Email))
	one(typeUsername, u.Username)
	one(typeExternalID, u.ExternalID)
	for _, id := range u.Identities {
		one(typeIdentity, id)
	}
	for _, id := range u.SyncRelations {
		one(typeSyncRelation, id)
	}
}

func (d *directory) add(in User) {
	u := in
	u.Identities = slices.Clone(in.Identities)
	u.SyncRelations = slices.Clone(in.SyncRelations)
	u.DepartmentIDs = slices.Clone(in.DepartmentIDs)
	if u.Status == "" {
		u.Status = "Activated"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID == nil {
		d.byID = make(map[string]int)
	}
	d.created++
	if u.CreatedAt.IsZero() {
		u.CreatedAt = directoryEpoch.Add(time.Duration(d.created) * time.Millisecond)
	}
	if i, ok := d.byID[u.UserID]; ok && u.UserID != "" {
		old := d.users[i]
		if in.CreatedAt.IsZero() {
			u.CreatedAt = old.CreatedAt
		} else if !u.CreatedAt.Equal(old.CreatedAt) {
			d.unordered = true
		}
		old.keys(func(t int, id string) { d.index[t].CompareAndDelete(id, old) })
		d.users[i] = &u
	} else {
		if u.UserID != "" {
			d.byID[u.UserID] = len(d.users)
		}
		if n := len(d.users); n > 0 && !u.CreatedAt.After(d.users[n-1].CreatedAt) {
			d.unordered = true
		}
		d.users = append(d.users, &u)
	}
	u.keys(func(t int, id string) { d.index[t].Store(id, &u) })
}

// directoryEpoch is the creation time of the directory's first user when
// none is given.
var directoryEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// inCreationOrder reports whether the directory's order is by creation
// time, with no two users created at once.
func (d *directory) inCreationOrder() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.unordered
}

func (d *directory) lookup(t int, id string) *User {
	if t == typeEmail {
		id = strings.ToLower(id)
	}
	v, ok := d.index[t].Load(id)
	if !ok {
		return nil
	}
	return v.(*User)
}

// page returns users [off, off+n) in directory order, and the total.
func (d *directory) page(off, n int) ([]*User, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := len(d.users)
	if off >= total {
		return nil, total
	}
	end := min(off+n, total)
	return slices.Clone(d.users[off:end]), total
}

// AddUser adds u to the directory. A user with the UserID of an earlier
// one replaces it in place (same list-users position). When two users share
// another identifier, the later one answers for it. Safe while serving.
func (s *Server) AddUser(u User) { s.dir.add(u) }

// AddUsers adds users in order; see AddUser.
func (s *Server) AddUsers(users ...User) {
	for _, u := range users {
		s.dir.add(u)
	}
}

// Users returns a copy of the directory in list-users order.
func (s *Server) Users() []User {
	ps, _ := s.dir.page(0, int(^uint(0)>>1))
	out := make([]User, len(ps))
	for i, p := range ps {
		out[i] = *p
		out[i].Identities = slices.Clone(p.Identities)
		out[i].SyncRelations = slices.Clone(p.SyncRelations)
		out[i].DepartmentIDs = slices.Clone(p.DepartmentIDs)
	}
	return out
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit maps x to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

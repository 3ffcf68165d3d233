// Package pipeline turns a stream of subjects into a stream of results:
// de-duplication, the shard filter, a bounded worker pool that asks the
// GenAuth API, results delivered to sinks in input order from one goroutine,
// and the running Summary.
package pipeline

import (
	"strconv"
	"strings"
)

// IDTypes are the userIdType values the GenAuth API accepts, in the order the
// documentation lists them.
var IDTypes = []string{"user_id", "phone", "email", "username", "external_id", "identity", "sync_relation"}

// ValidIDType reports whether t is one of IDTypes.
func ValidIDType(t string) bool {
	for _, v := range IDTypes {
		if v == t {
			return true
		}
	}
	return false
}

// Attr is one pass-through attribute of a subject (an extra CSV or SQL column).
type Attr struct {
	Key   string
	Value string
}

// Attrs is an ordered list of attributes; order is the source's column order.
type Attrs []Attr

// Get returns the value of key and whether it is present.
func (a Attrs) Get(key string) (string, bool) {
	for _, kv := range a {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Subject is one row of input: the pair (IDType, UserID) plus attributes.
type Subject struct {
	UserID string
	IDType string
	Attrs  Attrs
	// Line is where the subject came from (CSV line number, SQL row number);
	// 0 when the source has no notion of lines.
	Line int64
	// Invalid, when not empty, says why the source rejected the row (empty id,
	// unknown id type). Such a subject is never sent to the API.
	Invalid string
}

// Key identifies a subject wherever subjects are compared: de-duplication,
// sharding, resume, the baseline and the exceptions register. Build it with
// KeyOf (or Subject.Key, Result.Key), never by hand: two subjects are the
// same exactly when their Keys are equal.
type Key struct {
	IDType string
	UserID string // folded: an e-mail address in lower case
}

// KeyOf returns the identity of the subject (idType, userID), both already
// trimmed (Normalize). E-mail addresses are compared case-insensitively
// (SPEC 4: Ann@X.com and ann@x.com are one subject), so an "email" id is
// folded to lower case; every other type is compared byte for byte. It
// allocates only for an e-mail id that holds an upper-case letter.
func KeyOf(idType, userID string) Key {
	if idType == "email" {
		userID = strings.ToLower(userID)
	}
	return Key{IDType: idType, UserID: userID}
}

// Key returns the subject's identity (KeyOf); the subject keeps its id as
// first written.
func (s Subject) Key() Key { return KeyOf(s.IDType, s.UserID) }

// Normalize trims the id and id type and applies the default id type. It
// marks the subject invalid when the id is empty or the type unknown, unless
// the source already marked it.
func (s *Subject) Normalize(defaultIDType string) {
	s.UserID = strings.TrimSpace(s.UserID)
	s.IDType = strings.TrimSpace(s.IDType)
	if s.IDType == "" {
		s.IDType = defaultIDType
	}
	if s.Invalid != "" {
		return
	}
	switch {
	case s.UserID == "":
		s.Invalid = "empty user id"
	case !ValidIDType(s.IDType):
		s.Invalid = "unknown id type " + strconv.Quote(s.IDType) + " (want one of " + strings.Join(IDTypes, ", ") + ")"
	}
}

package genauthtest

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestLaterIsDeterministicWithTheAskedShares(t *testing.T) {
	var users []User
	for i := range 10000 {
		users = append(users, User{UserID: fmt.Sprintf("%024x", i), Username: fmt.Sprint("u", i), DepartmentIDs: []string{fmt.Sprint("d", i%7)}, SMS: i%2 == 0})
	}
	l := Later{Changed: 0.2, Deleted: 0.05, Joined: 0.1, Seed: 7}
	a, b := l.Apply(users), l.Apply(users)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Apply is not deterministic")
	}
	deleted, changed := 0, map[string]int{}
	for _, u := range users {
		if l.Deletes(u) {
			deleted++
		} else if c := l.Change(u); c != "" {
			changed[c]++
		}
	}
	near := func(what string, got int, want float64) {
		if math.Abs(float64(got)-want) > want*0.15 {
			t.Errorf("%s: %d, want about %.0f", what, got, want)
		}
	}
	near("deleted", deleted, 500)
	near("changed", changed[LaterLosesAll]+changed[LaterBindsTOTP]+changed[LaterWeakens], 0.2*9500)
	for _, c := range []string{LaterLosesAll, LaterBindsTOTP, LaterWeakens} {
		near(c, changed[c], 0.2*9500/3)
	}
	if len(a) != 10000-deleted+1000 {
		t.Fatalf("%d users later, want %d", len(a), 10000-deleted+1000)
	}
	for _, j := range a[len(a)-1000:] {
		if len(j.UserID) != 24 || len(j.DepartmentIDs) != 1 {
			t.Fatalf("joiner %+v", j)
		}
	}
	if c := (Later{Seed: 8, Changed: 0.2, Deleted: 0.05, Joined: 0.1}).Apply(users); reflect.DeepEqual(a, c) {
		t.Error("another seed changes nothing")
	}
}

func TestServeLaterReplacesTheDirectory(t *testing.T) {
	users := []User{}
	for i := range 200 {
		users = append(users, User{UserID: fmt.Sprintf("%024x", i), Email: fmt.Sprintf("u%d@example.com", i), TOTP: true})
	}
	srv := NewServer(Options{Users: users})
	defer srv.Close()
	l := Later{Changed: 0.3, Deleted: 0.1, Joined: 0.1}
	srv.ServeLater(l)
	for _, u := range users {
		got := srv.dir.lookup(typeEmail, u.Email)
		switch {
		case l.Deletes(u) && got != nil:
			t.Errorf("deleted user %s still served", u.Email)
		case !l.Deletes(u) && got == nil:
			t.Errorf("user %s lost", u.Email)
		case got != nil && l.Change(u) == LaterLosesAll && got.TOTP:
			t.Errorf("user %s kept TOTP", u.Email)
		}
	}
	if n := srv.dir.len(); n != len(l.Apply(users)) {
		t.Errorf("%d users served", n)
	}
}

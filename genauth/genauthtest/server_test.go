package genauthtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewServerAt(t *testing.T) {
	s, err := NewServerAt("127.0.0.1:0", Options{PoolID: "p1", Secret: "s1", Users: []User{{UserID: "u1", TOTP: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.Addr() == nil || strings.HasSuffix(s.URL, "/") {
		t.Errorf("URL %q Addr %v", s.URL, s.Addr())
	}
	c := newTestClient(t, s)
	c.login()
	if m := statuses(t, c.mfa("", "u1")); !bound(t, m["totpStatus"]) {
		t.Errorf("Options.Users not served: %v", m)
	}
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	if _, err := NewServerAt(s.Addr().String(), Options{}); err == nil {
		t.Error("NewServerAt on a busy port succeeded")
	}
	if _, err := NewServerAt("not an address", Options{}); err == nil {
		t.Error("NewServerAt on a bad address succeeded")
	}
	s.Close()
	s.Close() // idempotent
	if _, err := http.Get(s.URL + PathMFAInfo); err == nil {
		t.Error("server still answers after Close")
	}
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestHandlerStandalone(t *testing.T) {
	s := NewUnstartedServer(Options{})
	s.AddUser(User{UserID: "u1"})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	s.URL = ts.URL
	c := newTestClient(t, s)
	c.login()
	if r := c.mfa("", "u1"); r.body.StatusCode != 200 {
		t.Errorf("%s", r.raw)
	}
	s.SetFaults(Faults{ResetRate: 1})
	c.hc.Transport.(*http.Transport).DisableKeepAlives = true
	if r := c.mfa("", "u1"); r.err == nil || !isReset(r.err) {
		t.Errorf("reset through httptest: %v", r.err)
	}
}

func TestUsersCopy(t *testing.T) {
	s := NewUnstartedServer(Options{})
	in := User{UserID: "u1", DepartmentIDs: []string{"d1"}, Identities: []string{"idp:1"}}
	s.AddUser(in)
	in.DepartmentIDs[0] = "changed"
	in.Identities[0] = "idp:2"
	got := s.Users()
	if len(got) != 1 || got[0].DepartmentIDs[0] != "d1" || got[0].Status != "Activated" {
		t.Fatalf("Users() = %+v", got)
	}
	got[0].DepartmentIDs[0] = "changed"
	if s.Users()[0].DepartmentIDs[0] != "d1" {
		t.Error("Users() shares slices with the directory")
	}
	if s.dir.lookup(typeIdentity, "idp:1") == nil || s.dir.lookup(typeIdentity, "idp:2") != nil {
		t.Error("AddUser kept the caller's Identities slice")
	}
	s.AddUser(User{UserID: "u1", Email: "u1@x"}) // replace: old identity unindexed
	if s.dir.lookup(typeIdentity, "idp:1") != nil || s.dir.lookup(typeEmail, "u1@x") == nil || len(s.Users()) != 1 {
		t.Error("replacing a user did not re-index it")
	}
}

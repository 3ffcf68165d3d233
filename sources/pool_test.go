package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mfa-audit/mfa-audit/genauth"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// TestPoolPagesThroughListUsers reads a whole pool of 123 users (three
// pages of 50) from the fake server through the real client.
func TestPoolPagesThroughListUsers(t *testing.T) {
	var users []genauthtest.User
	for i := range 123 {
		users = append(users, genauthtest.User{
			UserID: fmt.Sprintf("u%03d", i), Username: fmt.Sprintf("user%d", i),
			Email: fmt.Sprintf("user%d@example.com", i), DepartmentIDs: []string{"d1", fmt.Sprintf("d%d", i%3)},
		})
	}
	srv := genauthtest.NewServer(genauthtest.Options{Users: users})
	defer srv.Close()
	client, err := genauth.New(genauth.Config{Host: srv.URL, AccessKeyID: srv.PoolID, AccessKeySecret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := OpenPool(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Total() != 123 || src.Describe() != "genauth:users" {
		t.Errorf("total %d, describe %q", src.Total(), src.Describe())
	}
	var n int
	for {
		s, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := users[n]
		if s.UserID != want.UserID || s.IDType != "user_id" || s.Line != int64(n+1) {
			t.Fatalf("subject %d: %+v", n, s)
		}
		if v, _ := s.Attrs.Get("email"); v != want.Email {
			t.Errorf("%s email attr %q", s.UserID, v)
		}
		if v, _ := s.Attrs.Get("department_ids"); v != "d1;"+fmt.Sprintf("d%d", n%3) {
			t.Errorf("%s department_ids %q", s.UserID, v)
		}
		n++
	}
	if n != 123 {
		t.Errorf("read %d users, want 123", n)
	}
	if c := srv.Counters(); c.ListCalls != 3 {
		t.Errorf("%d list-users calls for 123 users at 50 a page, want 3", c.ListCalls)
	}
}

func TestPoolOpenFailsOnRefusedCredentials(t *testing.T) {
	srv := genauthtest.NewServer(genauthtest.Options{})
	defer srv.Close()
	client, err := genauth.New(genauth.Config{Host: srv.URL, AccessKeyID: srv.PoolID, AccessKeySecret: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPool(context.Background(), client); genauth.ErrorClass(err) != genauth.ClassAuth {
		t.Errorf("OpenPool with a wrong secret: %v", err)
	}
}

package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
	if c := srv.Counters(); c.ListCalls != 5 {
		t.Errorf("%d list-users calls for 123 users at 50 a page, want 3 and a probe before pages 2 and 3", c.ListCalls)
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

// poolUsers is a pool of n users with GenAuth-shaped ids.
func poolUsers(n int) []genauthtest.User {
	var us []genauthtest.User
	for i := range n {
		us = append(us, genauthtest.User{UserID: fmt.Sprintf("64f1%020x", i), Username: fmt.Sprintf("user%d", i)})
	}
	return us
}

// drainPool reads a whole pool and returns the ids, the error Next ended
// with (nil at EOF) and Reconcile's verdict.
func drainPool(t *testing.T, srv *genauthtest.Server) (src *Pool, ids []string, nextErr, reconcile error) {
	t.Helper()
	client, err := genauth.New(genauth.Config{Host: srv.URL, AccessKeyID: srv.PoolID, AccessKeySecret: srv.Secret, Rate: 0})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err = OpenPool(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	for {
		s, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return src, ids, nil, src.Reconcile()
		}
		if err != nil {
			return src, ids, err, nil
		}
		ids = append(ids, s.UserID)
	}
}

func TestPoolComplete(t *testing.T) {
	for name, lb := range map[string]genauthtest.ListBehaviour{
		"unstable order without a sort":  {UnstableOrder: true},
		"users added while listing":      {UnstableOrder: true, AddPerPage: 7},
		"users removed while listing":    {RemovePerPage: 4},
		"users added and removed":        {AddPerPage: 5, RemovePerPage: 5},
		"sorted by creation time only":   {NoIDSort: true, RemovePerPage: 3},
		"deep pages capped beyond these": {MaxWindow: 1000},
	} {
		t.Run(name, func(t *testing.T) {
			users := poolUsers(432)
			srv := genauthtest.NewServer(genauthtest.Options{Users: users, List: lb})
			defer srv.Close()
			src, ids, nextErr, rec := drainPool(t, srv)
			if nextErr != nil || rec != nil {
				t.Fatalf("Next: %v; Reconcile: %v", nextErr, rec)
			}
			// Every user there at the start and still there at the end was
			// listed, exactly once.
			got := map[string]int{}
			for _, id := range ids {
				got[id]++
			}
			final := map[string]bool{}
			for _, u := range srv.Users() {
				final[u.UserID] = true
			}
			for _, u := range users {
				if final[u.UserID] && got[u.UserID] != 1 {
					t.Errorf("%s listed %d times", u.UserID, got[u.UserID])
				}
			}
			for id, n := range got {
				if n != 1 {
					t.Errorf("%s yielded %d times", id, n)
				}
			}
			start, end, listed, _ := src.Counts()
			if start != 432 || listed != int64(len(ids)) || (lb.AddPerPage > lb.RemovePerPage) != (end > start) {
				t.Errorf("counts start %d end %d listed %d (%d ids)", start, end, listed, len(ids))
			}
			if lb.NoIDSort != (len(src.Sort()) == 1) {
				t.Errorf("sort %v", src.Sort())
			}
		})
	}
}

func TestPoolIncompleteSaysSo(t *testing.T) {
	t.Run("deep pages refused", func(t *testing.T) {
		srv := genauthtest.NewServer(genauthtest.Options{Users: poolUsers(300), List: genauthtest.ListBehaviour{MaxWindow: 120}})
		defer srv.Close()
		_, ids, nextErr, _ := drainPool(t, srv)
		if len(ids) != 100 || nextErr == nil || !strings.Contains(nextErr.Error(), "refused page 3 (users 101 to 150 of 300)") ||
			!strings.Contains(nextErr.Error(), "Result window is too large") {
			t.Errorf("%d ids, error %v", len(ids), nextErr)
		}
	})
	t.Run("deep pages empty", func(t *testing.T) {
		srv := genauthtest.NewServer(genauthtest.Options{Users: poolUsers(300), List: genauthtest.ListBehaviour{MaxWindow: 120, MaxWindowQuiet: true}})
		defer srv.Close()
		_, ids, nextErr, rec := drainPool(t, srv)
		if len(ids) != 120 || nextErr != nil || rec == nil ||
			!strings.Contains(rec.Error(), "listed 120 unique users, fewer than the pool holds (totalCount 300 at the start, 300 at the end)") ||
			!strings.Contains(rec.Error(), "cap how deep") {
			t.Errorf("%d ids, Next %v, Reconcile %v", len(ids), nextErr, rec)
		}
	})
	t.Run("more removed between two pages than a page holds", func(t *testing.T) {
		srv := genauthtest.NewServer(genauthtest.Options{Users: poolUsers(400), List: genauthtest.ListBehaviour{RemovePerPage: 60}})
		defer srv.Close()
		_, _, nextErr, rec := drainPool(t, srv)
		if nextErr != nil || rec == nil || !strings.Contains(rec.Error(), "totalCount 400 at the start") {
			t.Errorf("Next %v, Reconcile %v", nextErr, rec)
		}
	})
}

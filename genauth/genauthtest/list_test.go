package genauthtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// listAll pages through list-users 10 at a time with the given sort JSON
// ("" for none) and returns the ids in order and each page's totalCount.
func listAll(t *testing.T, c *testClient, sort string, pages int) (ids []string, totals []int, refused string) {
	t.Helper()
	for pg := 1; pg <= pages; pg++ {
		body := fmt.Sprintf(`{"options":{"pagination":{"page":%d,"limit":10}%s}}`, pg, sort)
		r := c.list(body)
		if r.body.StatusCode != 200 {
			return ids, totals, r.body.Message
		}
		var p struct {
			TotalCount int `json:"totalCount"`
			List       []struct {
				UserID string `json:"userId"`
			} `json:"list"`
		}
		if err := json.Unmarshal(r.body.Data, &p); err != nil {
			t.Fatal(err)
		}
		totals = append(totals, p.TotalCount)
		for _, u := range p.List {
			ids = append(ids, u.UserID)
		}
		if len(p.List) < 10 {
			break
		}
	}
	return ids, totals, ""
}

func uniqueCount(ids []string) int {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return len(m)
}

const byCreation = `,"sort":[{"field":"createdAt","order":"asc"},{"field":"userId","order":"asc"}]`

func TestListUsersOrderAndSwitches(t *testing.T) {
	pool := func(n int) []User {
		var us []User
		for i := range n {
			us = append(us, User{UserID: fmt.Sprintf("u%03d", i), Username: fmt.Sprintf("name%03d", n-i)})
		}
		return us
	}

	t.Run("unstable without a sort, stable with one", func(t *testing.T) {
		s := startServer(t, Options{Users: pool(100), List: ListBehaviour{UnstableOrder: true}})
		c := newTestClient(t, s)
		c.login()
		ids, _, _ := listAll(t, c, "", 20)
		if len(ids) != 100 || uniqueCount(ids) == 100 {
			t.Errorf("unsorted listing: %d ids, %d unique; want 100 with repeats and misses", len(ids), uniqueCount(ids))
		}
		ids, _, _ = listAll(t, c, byCreation, 20)
		for i, id := range ids {
			if id != fmt.Sprintf("u%03d", i) {
				t.Fatalf("sorted by creation: %v", ids)
			}
		}
		ids, _, _ = listAll(t, c, `,"sort":[{"field":"username","order":"desc"}]`, 20)
		if len(ids) != 100 || ids[0] != "u000" || ids[99] != "u099" {
			t.Errorf("sorted by username desc: %v", ids)
		}
	})

	t.Run("explicit creation times", func(t *testing.T) {
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		s := startServer(t, Options{Users: []User{{UserID: "c", CreatedAt: t0}, {UserID: "b", CreatedAt: t0}, {UserID: "a", CreatedAt: t0.Add(-time.Hour)}}})
		c := newTestClient(t, s)
		c.login()
		if ids, _, _ := listAll(t, c, byCreation, 2); strings.Join(ids, ",") != "a,b,c" {
			t.Errorf("by creation then id: %v", ids)
		}
	})

	t.Run("users added and removed while listing", func(t *testing.T) {
		s := startServer(t, Options{Users: pool(100), List: ListBehaviour{AddPerPage: 3}})
		c := newTestClient(t, s)
		c.login()
		ids, totals, _ := listAll(t, c, byCreation, 50)
		if totals[0] != 100 || totals[len(totals)-1] <= 100 || uniqueCount(ids) != len(ids) || len(ids) < 100 {
			t.Errorf("with additions: totals %v, %d ids (%d unique)", totals, len(ids), uniqueCount(ids))
		}
		s.SetListBehaviour(ListBehaviour{RemovePerPage: 2})
		before := len(s.Users())
		ids, totals, _ = listAll(t, c, byCreation, 50)
		listed := map[string]bool{}
		for _, id := range ids {
			listed[id] = true
		}
		missed := 0
		for _, u := range s.Users() {
			if !listed[u.UserID] {
				missed++
			}
		}
		if totals[0] != before || totals[len(totals)-1] >= before || missed == 0 {
			t.Errorf("with removals: totals %v, %d ids, %d users never listed: want some (pages shifted)", totals, len(ids), missed)
		}
	})

	t.Run("deep pages capped", func(t *testing.T) {
		s := startServer(t, Options{Users: pool(100), List: ListBehaviour{MaxWindow: 35}})
		c := newTestClient(t, s)
		c.login()
		ids, _, refused := listAll(t, c, byCreation, 20)
		if len(ids) != 30 || !strings.Contains(refused, "Result window is too large") {
			t.Errorf("capped loudly: %d ids, refusal %q", len(ids), refused)
		}
		s.SetListBehaviour(ListBehaviour{MaxWindow: 35, MaxWindowQuiet: true})
		if ids, totals, refused := listAll(t, c, byCreation, 20); len(ids) != 35 || refused != "" || totals[len(totals)-1] != 100 {
			t.Errorf("capped quietly: %d ids, totals %v, refusal %q", len(ids), totals, refused)
		}
	})

	t.Run("sort fields", func(t *testing.T) {
		s := startServer(t, Options{Users: pool(3), List: ListBehaviour{NoIDSort: true}})
		c := newTestClient(t, s)
		c.login()
		for body, ok := range map[string]bool{
			byCreation: false,
			`,"sort":[{"field":"createdAt","order":"asc"}]`: true,
			`,"sort":[{"field":"shoeSize","order":"asc"}]`:  false,
			`,"sort":[{"field":"createdAt","order":"up"}]`:  false,
			`,"sort":[{"field":"a\"b\\","order":"asc"}]`:    false,
		} {
			if _, _, refused := listAll(t, c, body, 1); (refused == "") != ok {
				t.Errorf("%s: refused %q, want ok=%v", body, refused, ok)
			}
		}
	})
}

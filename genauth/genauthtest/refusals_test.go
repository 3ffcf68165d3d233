package genauthtest

import (
	"fmt"
	"strings"
	"testing"
)

func TestRefusalSwitches(t *testing.T) {
	s := startServer(t, Options{Synthesize: true})
	c := newTestClient(t, s)
	c.login()
	id := fmt.Sprintf("%024x", 12345)

	s.SetFaults(Faults{Forbidden: true})
	for range 3 {
		r := c.mfa("", id)
		if r.status != 200 || r.body.StatusCode != 403 || string(r.body.APICode) != "1636" || r.body.RequestID == "" {
			t.Fatalf("forbidden: HTTP %d %s", r.status, r.raw)
		}
	}
	s.SetFaults(Faults{HTML404: true})
	r := c.mfa("", id)
	if r.status != 404 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || r.decErr == nil {
		t.Fatalf("html404: HTTP %d %s %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	if got := s.Counters(); got.Denied != 3 || got.EndpointMissing != 1 || got.Answers != 4 || got.Requests != 4 {
		t.Errorf("counters %+v", got)
	}

	// A share of 403s, drawn per request: about 10 % of 1,000 calls,
	// and a subject refused once is answered on a later call.
	s.SetFaults(Faults{ForbiddenRate: 0.1})
	s.ResetCounters()
	for i := range 1000 {
		c.mfa("", fmt.Sprintf("%024x", i%100))
	}
	got := s.Counters()
	if got.Denied < 60 || got.Denied > 140 || got.OK+got.NotFound+got.Denied != 1000 {
		t.Errorf("403=0.1 over 1000 calls: %+v", got)
	}
	if got.Answered != 100 {
		t.Errorf("answered %d subjects, want all 100", got.Answered)
	}
}

func TestParseRefusalSwitches(t *testing.T) {
	f, err := ParseFaults("forbidden,403=0.02,html404=true")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Forbidden || f.ForbiddenRate != 0.02 || !f.HTML404 {
		t.Errorf("parsed %+v", f)
	}
	if back, err := ParseFaults(f.String()); err != nil || back != f {
		t.Errorf("round trip %q: %+v, %v", f.String(), back, err)
	}
	// The 403 share is drawn on its own: it does not count towards the
	// transient rates' sum of 1.
	if _, err := ParseFaults("5xx=1,403=0.5"); err != nil {
		t.Errorf("5xx=1,403=0.5: %v", err)
	}
	if _, err := ParseFaults("403=2"); err == nil || !strings.Contains(err.Error(), `"403"`) {
		t.Errorf("403=2: %v", err)
	}
}

// The fake answers as the real API would for a user_id that is not a
// GenAuth id: not found, however plausible the id (issue 17 part 6).
func TestSynthesizeOnlyGenAuthIDs(t *testing.T) {
	s := startServer(t, Options{Synthesize: true})
	c := newTestClient(t, s)
	c.login()
	for _, id := range []string{"ann@example.com", "+86 138 0000 0000", "u1", "63739db00d92600aeac5d93", "63739db00d92600aeac5d935x", "63739db00d92600aeac5d93g"} {
		if r := c.mfa("user_id", id); r.body.StatusCode != 404 || string(r.body.APICode) != "2004" {
			t.Errorf("user_id %q: %s, want not found", id, r.raw)
		}
		if found, _, _, _, _ := SynthesizedState("user_id", id); found {
			t.Errorf("SynthesizedState(user_id, %q) found", id)
		}
	}
	// The same strings under their own id types are synthesized users.
	if r := c.mfa("email", "ann@example.com"); r.body.StatusCode != 200 && r.body.StatusCode != 404 {
		t.Errorf("email: %s", r.raw)
	}
	found := 0
	for i := range 50 {
		if c.mfa("user_id", fmt.Sprintf("%024X", i*104729)).body.StatusCode == 200 {
			found++
		}
	}
	if found < 40 {
		t.Errorf("%d of 50 GenAuth-shaped ids found; want about 96 %%", found)
	}
}

// Every request draws afresh: a second pass over the same subjects (a
// second dry run against the same fake) meets faults too.
func TestSecondRunMeetsFaults(t *testing.T) {
	s := startServer(t, Options{Synthesize: true, Faults: Faults{Body500Rate: 0.3}})
	c := newTestClient(t, s)
	c.login()
	pass := func() (faulted int64) {
		before := s.Counters().ServerErrors
		for i := range 100 {
			id := fmt.Sprintf("%024x", i)
			for range 3 { // FaultAttempts 2: the third attempt is clean
				if c.mfa("", id).body.StatusCode != 500 {
					break
				}
			}
		}
		return s.Counters().ServerErrors - before
	}
	first, second := pass(), pass()
	if first < 10 || second < 10 {
		t.Errorf("faults met: first pass %d, second pass %d; want about 30 each", first, second)
	}
	if got := s.Counters(); got.AnsweredTwice != 100 {
		t.Errorf("answered twice %d, want 100", got.AnsweredTwice)
	}
}

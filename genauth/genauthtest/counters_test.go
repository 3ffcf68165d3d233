package genauthtest

import (
	"fmt"
	"maps"
	"net/http"
	"sync"
	"testing"
)

func TestMaxInFlight(t *testing.T) {
	const n = 8
	s := NewUnstartedServer(Options{Synthesize: true})
	arrived := make(chan struct{})
	release := make(chan struct{})
	s.testHook = func(*http.Request) {
		arrived <- struct{}{}
		<-release
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := newTestClient(t, s)
	c.login()

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r := c.mfa("", fmt.Sprint("u", i)); r.err != nil {
				t.Error(r.err)
			}
		})
	}
	for range n {
		<-arrived
	}
	if got := s.Counters(); got.InFlight != n || got.MaxInFlight != n {
		t.Errorf("with %d calls held: in flight %d, max %d", n, got.InFlight, got.MaxInFlight)
	}
	close(release)
	wg.Wait()
	got := s.Counters()
	if got.InFlight != 0 || got.MaxInFlight != n || got.Requests != n {
		t.Errorf("after: in flight %d, max %d, requests %d; want 0, %d, %d", got.InFlight, got.MaxInFlight, got.Requests, n, n)
	}
	// One at a time afterwards does not raise the maximum.
	s.ResetCounters()
	go func() {
		for range 3 {
			<-arrived
		}
	}()
	for i := range 3 {
		c.mfa("", fmt.Sprint("v", i))
	}
	if got := s.Counters(); got.MaxInFlight != 1 || got.Requests != 3 {
		t.Errorf("sequential calls: max in flight %d requests %d; want 1, 3", got.MaxInFlight, got.Requests)
	}
}

func TestAnsweredSubjects(t *testing.T) {
	s := startServer(t, Options{Faults: Faults{ThrottleRate: 1}, FaultAttempts: 1})
	s.AddUsers(User{UserID: "a"}, User{UserID: "b", Email: "b@x"})
	c := newTestClient(t, s)
	c.login()
	calls := []struct{ idType, id string }{
		{"", "a"}, {"", "a"}, // throttled, then answered
		// throttled, answered, throttled again (a final answer starts a
		// new streak of attempts), answered twice
		{"email", "b@x"}, {"email", "b@x"}, {"email", "b@x"}, {"email", "b@x"},
		{"user_id", "ghost"}, {"user_id", "ghost"}, // throttled, not found
		{"email", "bad"}, {"email", "bad"}, // throttled, 400
		{"user_id", "a"}, {"user_id", "a"}, // answered again: "" and "user_id" are one subject
	}
	for _, cl := range calls {
		c.mfa(cl.idType, cl.id)
	}
	want := map[string]int{
		SubjectKey("user_id", "a"):     2,
		SubjectKey("email", "b@x"):     2,
		SubjectKey("user_id", "ghost"): 1,
		SubjectKey("email", "bad"):     1,
	}
	if got := s.AnsweredSubjects(); !maps.Equal(got, want) {
		t.Errorf("AnsweredSubjects = %v, want %v", got, want)
	}
	got := s.Counters()
	if got.Answered != 4 || got.AnsweredTwice != 2 || got.Answers != 6 || got.Throttled != 6 ||
		got.OK != 4 || got.NotFound != 1 || got.Invalid != 1 || got.Requests != int64(len(calls)) {
		t.Errorf("counters %+v", got)
	}

	s.ResetCounters()
	if got := s.Counters(); got != (Counters{}) {
		t.Errorf("after ResetCounters: %+v", got)
	}
	if got := s.AnsweredSubjects(); len(got) != 0 {
		t.Errorf("after ResetCounters: answered %v", got)
	}
	// Attempts start afresh: the first call is faulted again.
	if r := c.mfa("", "a"); r.status != 429 {
		t.Errorf("first call after ResetCounters: HTTP %d", r.status)
	}
	if c.token == "" || c.mfa("", "a").body.StatusCode != 200 {
		t.Error("tokens must survive ResetCounters")
	}
}

func TestForgetSubjects(t *testing.T) {
	s := startServer(t, Options{ForgetSubjects: true, Synthesize: true, Faults: Faults{Body500Rate: 1}})
	c := newTestClient(t, s)
	c.login()
	for range 6 { // 500, 500, not found (x is not a GenAuth id), and again
		c.mfa("", "x")
	}
	if got := s.AnsweredSubjects(); got != nil {
		t.Errorf("AnsweredSubjects = %v, want nil", got)
	}
	if got := s.Counters(); got.Answered != 1 || got.AnsweredTwice != 1 || got.ServerErrors != 4 || got.NotFound != 2 || s.Attempts("", "x") != 6 {
		t.Errorf("counters %+v attempts %d", got, s.Attempts("", "x"))
	}
}

func TestConcurrentCalls(t *testing.T) {
	s := startServer(t, Options{
		Synthesize: true,
		Faults:     Faults{BodyThrottleRate: 0.2, Body500Rate: 0.2, MixedStatuses: true},
	})
	c := newTestClient(t, s)
	c.login()
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", w, i)
				for attempt := 0; ; attempt++ {
					r := c.mfa("", id)
					if k := classify(r); k == "body200" || k == "body404" {
						break
					}
					if attempt == 2 {
						t.Errorf("%s: no answer after 3 attempts: %s", id, r.raw)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	got := s.Counters()
	if got.Answered != workers*perWorker || got.AnsweredTwice != 0 || len(s.AnsweredSubjects()) != workers*perWorker {
		t.Errorf("answered %d twice %d subjects %d; want %d once each",
			got.Answered, got.AnsweredTwice, len(s.AnsweredSubjects()), workers*perWorker)
	}
	if got.MaxInFlight < 1 || got.MaxInFlight > workers {
		t.Errorf("max in flight %d, want 1..%d", got.MaxInFlight, workers)
	}
}

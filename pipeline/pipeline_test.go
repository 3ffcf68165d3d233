package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth"
)

// sliceSource yields fixed subjects and counts how far it was read.
type sliceSource struct {
	subjects []Subject
	next     atomic.Int64
	err      error // returned instead of EOF at the end, when set
}

func (s *sliceSource) Next(ctx context.Context) (Subject, error) {
	i := s.next.Add(1) - 1
	if int(i) >= len(s.subjects) {
		if s.err != nil {
			return Subject{}, s.err
		}
		return Subject{}, EOF
	}
	return s.subjects[i], nil
}
func (s *sliceSource) AttrNames() []string { return []string{"department"} }
func (s *sliceSource) Describe() string    { return "test" }
func (s *sliceSource) Total() int64        { return int64(len(s.subjects)) }
func (s *sliceSource) Close() error        { return nil }

// memSink records what it is given and checks the call contract.
type memSink struct {
	t       *testing.T
	opened  int
	closed  int
	results []Result
	sum     Summary
	failAt  int // Write fails at this result (1-based); 0 never
	mu      sync.Mutex
}

func (m *memSink) Open(ctx context.Context, run RunInfo) error {
	m.opened++
	return nil
}

func (m *memSink) Write(ctx context.Context, r Result) error {
	if !m.mu.TryLock() {
		m.t.Error("Write called concurrently")
		return nil
	}
	defer m.mu.Unlock()
	if m.opened != 1 || m.closed != 0 {
		m.t.Errorf("Write with opened=%d closed=%d", m.opened, m.closed)
	}
	m.results = append(m.results, r)
	if m.failAt > 0 && len(m.results) == m.failAt {
		return errors.New("disk full")
	}
	return nil
}

func (m *memSink) Close(ctx context.Context, s Summary) error {
	m.closed++
	m.sum = s
	return nil
}

// fakeClient answers from a rule, after an optional random delay.
type fakeClient struct {
	maxDelay time.Duration
	calls    sync.Map // key -> *atomic.Int64
	block    chan struct{}
	started  atomic.Int64
	answer   func(idType, userID string) (genauth.MFAInfo, error)
}

func (f *fakeClient) GetUserMFAInfo(ctx context.Context, idType, userID string) (genauth.MFAInfo, error) {
	f.started.Add(1)
	v, _ := f.calls.LoadOrStore(idType+"/"+userID, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return genauth.MFAInfo{}, ctx.Err()
		}
	}
	if f.maxDelay > 0 {
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(f.maxDelay)))):
		case <-ctx.Done():
			return genauth.MFAInfo{}, ctx.Err()
		}
	}
	if f.answer != nil {
		return f.answer(idType, userID)
	}
	t := len(userID)%2 == 0
	return genauth.MFAInfo{TOTP: &t, Attempts: 1}, nil
}

func subjects(n int) []Subject {
	out := make([]Subject, n)
	for i := range out {
		out[i] = Subject{UserID: fmt.Sprintf("u%d", i), Line: int64(i + 2), Attrs: Attrs{{"department", fmt.Sprintf("d%d", i%3)}}}
	}
	return out
}

func TestRunKeepsInputOrderAndAsksOnce(t *testing.T) {
	in := subjects(500)
	// Repeats of earlier subjects, an invalid row twice, a blank type.
	in = append(in, in[3], in[10], Subject{UserID: "", Line: 900}, Subject{UserID: " ", Line: 901},
		Subject{UserID: "x", IDType: "nope", Line: 902}, Subject{UserID: " u7 ", IDType: " user_id ", Line: 903})
	src := &sliceSource{subjects: in}
	sink := &memSink{t: t}
	client := &fakeClient{maxDelay: 2 * time.Millisecond}
	sum, err := Run(context.Background(), src, []Sink{sink}, RunInfo{RunID: "r1", GroupBy: "department"},
		Options{Client: client, Window: 32})
	if err != nil {
		t.Fatal(err)
	}
	if sink.opened != 1 || sink.closed != 1 {
		t.Fatalf("opened %d closed %d", sink.opened, sink.closed)
	}
	if got := len(sink.results); got != 502 {
		t.Fatalf("%d results, want 500 valid + empty id + unknown type", got)
	}
	for i := range 500 {
		if sink.results[i].UserID != in[i].UserID {
			t.Fatalf("result %d is %q, want %q: order lost", i, sink.results[i].UserID, in[i].UserID)
		}
	}
	inv := sink.results[500]
	if inv.Outcome != OutcomeInvalid || inv.Line != 900 || inv.MFA != MFAUnknown || inv.Compliant != nil {
		t.Errorf("empty id result: %+v", inv)
	}
	if r := sink.results[501]; r.Outcome != OutcomeInvalid || r.IDType != "nope" {
		t.Errorf("unknown type result: %+v", r)
	}
	client.calls.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("%v asked %d times", k, n)
		}
		return true
	})
	if client.started.Load() != 500 {
		t.Errorf("API asked %d times, want 500", client.started.Load())
	}
	if sum.RowsRead != int64(len(in)) || sum.Duplicates != 4 || sum.Unique != 502 || sum.Invalid != 2 || sum.OK != 500 {
		t.Errorf("summary %+v", sum.Counts)
	}
	if !sum.Complete || sum.Incomplete != "" || !sink.sum.Complete {
		t.Errorf("complete=%v %q", sum.Complete, sum.Incomplete)
	}
	if sum.Compliant+sum.NonCompliant != sum.OK || sum.Compliant != sum.TOTP {
		t.Errorf("compliance counts %+v", sum.Counts)
	}
	groups := sum.Groups()
	if len(groups) != 4 || groups[3].Name != NoGroup { // d0, d1, d2 and (none) for the invalid rows without attributes
		t.Fatalf("groups %+v", groups)
	}
	for i := 1; i < len(groups)-1; i++ { // the last, (none), has nobody checked
		if groups[i-1].Coverage() > groups[i].Coverage() {
			t.Errorf("groups not sorted worst first: %+v", groups)
		}
	}
}

func TestRunClassifiesAPIErrors(t *testing.T) {
	in := []Subject{{UserID: "ok"}, {UserID: "gone"}, {UserID: "bad", IDType: "email"}, {UserID: "flaky"}, {UserID: "denied"}}
	client := &fakeClient{answer: func(idType, id string) (genauth.MFAInfo, error) {
		switch id {
		case "gone":
			return genauth.MFAInfo{}, &genauth.Error{Class: genauth.ClassNotFound, APICode: "2004", RequestID: "req-1", Attempts: 1, Message: "user does not exist"}
		case "bad":
			return genauth.MFAInfo{}, &genauth.Error{Class: genauth.ClassInvalid, StatusCode: 400, Attempts: 1}
		case "flaky":
			return genauth.MFAInfo{}, &genauth.Error{Class: genauth.ClassRetryable, HTTPStatus: 503, Attempts: 6}
		case "denied":
			return genauth.MFAInfo{}, &genauth.Error{Class: genauth.ClassFatal, StatusCode: 403, Attempts: 1}
		}
		y, n := true, false
		return genauth.MFAInfo{SMS: &y, TOTP: &n, RequestID: "req-ok", Attempts: 2}, nil
	}}
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: in}, []Sink{sink}, RunInfo{}, Options{Client: client, Policy: PolicyStrong})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome  Outcome
		mfa      string
		attempts int
	}{{OutcomeOK, MFAWeak, 2}, {OutcomeNotFound, MFAUnknown, 1}, {OutcomeInvalid, MFAUnknown, 1}, {OutcomeError, MFAUnknown, 6}, {OutcomeError, MFAUnknown, 1}}
	for i, w := range want {
		r := sink.results[i]
		if r.Outcome != w.outcome || r.MFA != w.mfa || r.Attempts != w.attempts || r.CheckedAt.IsZero() {
			t.Errorf("%s: got %s/%s/%d, want %+v", r.UserID, r.Outcome, r.MFA, r.Attempts, w)
		}
		if w.outcome != OutcomeOK && r.Error == "" {
			t.Errorf("%s: no error text", r.UserID)
		}
	}
	if r := sink.results[0]; r.Compliant == nil || *r.Compliant || r.Face != nil || *r.Factors != 1 {
		t.Errorf("weak user under strong policy: %+v", r)
	}
	if r := sink.results[1]; r.APICode != "2004" || r.RequestID != "req-1" {
		t.Errorf("not found keeps api code and request id: %+v", r)
	}
	if !sum.Complete || !sum.Failed {
		t.Errorf("2 unknowns with MaxUnknown 0: complete %v, failed %v; want a complete, failed run", sum.Complete, sum.Failed)
	}
	if sum.Error != 2 || !strings.Contains(sum.Caveat(), "not final") {
		t.Errorf("unknowns: %+v caveat %q", sum.Counts, sum.Caveat())
	}
	if got := sum.Completeness(); got != 1.0/3 {
		t.Errorf("completeness %v, want ok/(unique-not_found-invalid) = 1/3", got)
	}
}

func TestRunBackpressure(t *testing.T) {
	src := &sliceSource{subjects: subjects(10000)}
	client := &fakeClient{block: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(context.Background(), src, []Sink{&memSink{t: t}}, RunInfo{}, Options{Client: client, Window: 16})
	}()
	// Wait until the window is full of blocked requests.
	for client.started.Load() < 16 {
		runtime.Gosched()
	}
	read := src.next.Load()
	if read > 16+2 {
		t.Errorf("source read %d rows ahead with a window of 16", read)
	}
	close(client.block)
	<-done
	if got := src.next.Load(); got != 10001 {
		t.Errorf("read %d", got)
	}
}

func TestRunCancelStopsAskingAndFlushes(t *testing.T) {
	src := &sliceSource{subjects: subjects(100000)}
	ctx, cancel := context.WithCancelCause(context.Background())
	sink := &memSink{t: t}
	var answered atomic.Int64
	client := &fakeClient{answer: func(idType, id string) (genauth.MFAInfo, error) {
		if answered.Add(1) == 300 {
			cancel(errors.New("SIGTERM"))
		}
		f := false
		return genauth.MFAInfo{TOTP: &f}, nil
	}}
	sum, err := Run(ctx, src, []Sink{sink}, RunInfo{}, Options{Client: client, Window: 8})
	if err == nil || sum.Complete || sink.sum.Complete {
		t.Fatalf("err=%v complete=%v", err, sum.Complete)
	}
	if sink.closed != 1 || len(sink.results) == 0 || len(sink.results) > 400 {
		t.Fatalf("closed %d, %d results", sink.closed, len(sink.results))
	}
	// What was answered is written in input order; what was in flight at
	// the signal is left out (not answered), never written as a guess.
	last := -1
	for _, r := range sink.results {
		var i int
		fmt.Sscanf(r.UserID, "u%d", &i)
		if i <= last || r.Outcome != OutcomeOK {
			t.Fatalf("result %s after u%d (%s): order lost or an unanswered subject written", r.UserID, last, r.Outcome)
		}
		last = i
	}
	if sum.Unique != int64(len(sink.results)) || sum.Incomplete == "" {
		t.Errorf("summary unique %d results %d incomplete %q", sum.Unique, len(sink.results), sum.Incomplete)
	}
	if src.next.Load() > 320 {
		t.Errorf("kept reading after cancel: %d rows", src.next.Load())
	}
}

func TestRunSinkFailureStopsRun(t *testing.T) {
	bad := &memSink{t: t, failAt: 50}
	good := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: subjects(5000)}, []Sink{bad, good}, RunInfo{}, Options{Client: &fakeClient{}, Window: 8})
	if err == nil || sum.Complete || good.sum.Incomplete == "" {
		t.Fatalf("err=%v complete=%v", err, sum.Complete)
	}
	if len(bad.results) != 50 {
		t.Errorf("failed sink got %d writes after failing", len(bad.results)-50)
	}
	if len(good.results) < 50 || len(good.results) > 100 || good.closed != 1 || good.sum.Complete {
		t.Errorf("good sink: %d results, closed %d, complete %v", len(good.results), good.closed, good.sum.Complete)
	}
}

func TestRunCredentialsRefusedMidRun(t *testing.T) {
	var n atomic.Int64
	client := &fakeClient{answer: func(idType, id string) (genauth.MFAInfo, error) {
		if n.Add(1) > 20 {
			return genauth.MFAInfo{}, &genauth.Error{Class: genauth.ClassAuth, StatusCode: 401}
		}
		return genauth.MFAInfo{}, nil
	}}
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: subjects(1000)}, []Sink{sink}, RunInfo{}, Options{Client: client, Window: 4})
	if !errors.Is(err, ErrCredentials) || sum.Complete {
		t.Fatalf("err=%v", err)
	}
	if n.Load() > 40 {
		t.Errorf("kept asking after the credentials were refused: %d calls", n.Load())
	}
	for _, r := range sink.results {
		if r.Outcome != OutcomeOK {
			t.Errorf("a refused subject was written as %s", r.Outcome)
		}
	}
}

func TestRunSourceErrorKeepsAnswers(t *testing.T) {
	src := &sliceSource{subjects: subjects(100), err: errors.New("users.csv line 102 column 3: bare \" in non-quoted field")}
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), src, []Sink{sink}, RunInfo{}, Options{Client: &fakeClient{}})
	if err == nil || sum.Complete || len(sink.results) != 100 {
		t.Fatalf("err=%v complete=%v results=%d", err, sum.Complete, len(sink.results))
	}
	if want := "line 102 column 3"; !strings.Contains(sum.Incomplete, want) {
		t.Errorf("incomplete %q does not say %q", sum.Incomplete, want)
	}
}

func TestShardsPartitionSubjects(t *testing.T) {
	in := subjects(3000)
	var all []string
	for i := range 4 {
		sink := &memSink{t: t}
		sum, err := Run(context.Background(), &sliceSource{subjects: slices.Clone(in)}, []Sink{sink}, RunInfo{Shard: Shard{Index: i, Count: 4}}, Options{Client: &fakeClient{}})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Unique < 600 || sum.Unique > 900 || sum.OtherShard != 3000-sum.Unique {
			t.Errorf("shard %d: %d unique, %d other", i, sum.Unique, sum.OtherShard)
		}
		for _, r := range sink.results {
			all = append(all, r.UserID)
		}
	}
	slices.Sort(all)
	if len(all) != 3000 || len(slices.Compact(all)) != 3000 {
		t.Errorf("shards cover %d subjects (want 3000 exactly once)", len(all))
	}
}

func TestPriorSkipsFinalSubjects(t *testing.T) {
	prior := priorMap{"u1": OutcomeOK, "u2": OutcomeNotFound}
	client := &fakeClient{}
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: subjects(5)}, []Sink{sink}, RunInfo{}, Options{Client: client, Prior: prior})
	if err != nil {
		t.Fatal(err)
	}
	if client.started.Load() != 3 || sum.Resumed != 2 || len(sink.results) != 5 {
		t.Fatalf("asked %d, resumed %d, results %d", client.started.Load(), sum.Resumed, len(sink.results))
	}
	if r := sink.results[1]; !r.Resumed || r.Outcome != OutcomeOK || r.Attrs == nil {
		t.Errorf("resumed result %+v", r)
	}
}

type priorMap map[string]Outcome

func (p priorMap) Lookup(ctx context.Context, s Subject) (Result, bool, error) {
	o, ok := p[s.UserID]
	if !ok {
		return Result{}, false, nil
	}
	t := true
	return Result{UserID: s.UserID, IDType: s.IDType, Outcome: o, TOTP: &t}, true, nil
}

func TestGroupsWorstFirstUncheckedLast(t *testing.T) {
	s := Summary{Run: RunInfo{GroupBy: "dept"}}
	add := func(dept string, outcome Outcome, totp bool) {
		r := Result{Outcome: outcome, TOTP: &totp, Attrs: Attrs{{"dept", dept}}}
		r.Classify(PolicyAny)
		s.Add(&r)
	}
	add("a", OutcomeOK, true)
	add("a", OutcomeOK, false) // a: 50 %
	add("b", OutcomeOK, false) // b: 0 %
	add("c", OutcomeError, false)
	add("d", OutcomeOK, true) // d: 100 %
	var names []string
	for _, g := range s.Groups() {
		names = append(names, g.Name)
	}
	if want := []string{"b", "a", "d", "c"}; !slices.Equal(names, want) {
		t.Errorf("groups %v, want %v", names, want)
	}
}

// TestEmailSubjectsFoldCase: one person's e-mail written in two cases is one
// subject: asked once, shown as first written, the other a duplicate, and
// in one shard whatever the case.
func TestEmailSubjectsFoldCase(t *testing.T) {
	in := []Subject{
		{UserID: "User7@Corp.Example", IDType: "email", Line: 2},
		{UserID: "u1", Line: 3},
		{UserID: " USER7@CORP.EXAMPLE ", IDType: "email", Line: 4},
		{UserID: "user7@corp.example", IDType: " email", Line: 5},
		{UserID: "U1", Line: 6},                                     // user_id: compared byte for byte
		{UserID: "USER7@CORP.EXAMPLE", IDType: "username", Line: 7}, // another type: another subject
	}
	client := &fakeClient{}
	sink := &memSink{t: t}
	sum, err := Run(context.Background(), &sliceSource{subjects: in}, []Sink{sink}, RunInfo{}, Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range sink.results {
		got = append(got, r.IDType+":"+r.UserID)
	}
	want := []string{"email:User7@Corp.Example", "user_id:u1", "user_id:U1", "username:USER7@CORP.EXAMPLE"}
	if !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	if sum.Duplicates != 2 || sum.Unique != 4 || client.started.Load() != 4 {
		t.Errorf("duplicates %d unique %d asked %d, want 2, 4, 4", sum.Duplicates, sum.Unique, client.started.Load())
	}
	if _, ok := client.calls.Load("email/User7@Corp.Example"); !ok {
		t.Error("the e-mail was not asked as first written")
	}

	if KeyOf("email", "Ann@X.com") != KeyOf("email", "ann@x.com") || KeyOf("user_id", "Ann") == KeyOf("user_id", "ann") {
		t.Error("KeyOf folds the wrong ids")
	}
	if (Result{IDType: "email", UserID: "ANN@X.COM"}).Key() != (Subject{IDType: "email", UserID: "ann@x.com"}).Key() {
		t.Error("Result.Key and Subject.Key disagree")
	}
	for n := 2; n <= 7; n++ {
		for i := range 50 {
			lower := KeyOf("email", fmt.Sprintf("person%d@corp.example", i))
			upper := KeyOf("email", fmt.Sprintf("PERSON%d@Corp.EXAMPLE", i))
			for s := range n {
				if sh := (Shard{Index: s, Count: n}); sh.Owns(lower) != sh.Owns(upper) {
					t.Fatalf("shard %v: %v and %v in different shards", sh, lower, upper)
				}
			}
		}
	}
}

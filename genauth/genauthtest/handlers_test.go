package genauthtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTokenExchange(t *testing.T) {
	s := startServer(t, Options{})
	c := newTestClient(t, s)
	if s.PoolID != DefaultPoolID || s.Secret != DefaultSecret {
		t.Fatalf("defaults: pool %q secret %q", s.PoolID, s.Secret)
	}

	r := c.exchange(s.PoolID, s.Secret)
	if r.status != 200 || r.body.StatusCode != 200 || r.body.Message != "Success" {
		t.Fatalf("exchange: HTTP %d %s", r.status, r.raw)
	}
	var d struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(r.body.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.ExpiresIn != 7200 {
		t.Errorf("expires_in = %d, want 7200", d.ExpiresIn)
	}
	parts := strings.Split(d.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not JWT-shaped", d.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Pool string `json:"scoped_userpool_id"`
		Exp  int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Pool != s.PoolID || claims.Exp == 0 {
		t.Errorf("claims %s (%v): want scoped_userpool_id %q", payload, err, s.PoolID)
	}
	if again := c.exchange(s.PoolID, s.Secret); strings.Contains(string(again.raw), d.AccessToken) {
		t.Error("two exchanges returned the same token; tokens must be random")
	}

	for _, tc := range []struct {
		name, id, secret string
		apiCode          string
	}{
		{"wrong secret", s.PoolID, "nope", "2005"},
		{"wrong pool", "other-pool", s.Secret, "2224"},
	} {
		r := c.exchange(tc.id, tc.secret)
		if r.status != 200 || r.body.StatusCode != 401 || string(r.body.APICode) != tc.apiCode || r.body.Message == "" {
			t.Errorf("%s: HTTP %d %s; want HTTP 200, statusCode 401, apiCode %s", tc.name, r.status, r.raw, tc.apiCode)
		}
		if strings.Contains(string(r.raw), "access_token") {
			t.Errorf("%s: refused exchange carries a token: %s", tc.name, r.raw)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, s.URL+PathToken, strings.NewReader("{not json"))
	if r := c.do(req); r.status != 200 || r.body.StatusCode != 400 {
		t.Errorf("bad JSON: HTTP %d %s; want body statusCode 400", r.status, r.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL+PathToken, nil)
	if r := c.do(req); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET token: HTTP %d Allow %q; want 405 POST", r.status, r.header.Get("Allow"))
	}

	got := s.Counters()
	if got.TokenExchanges != 2 || got.TokenRefusals != 3 || got.TokenCalls != 6 {
		t.Errorf("counters: exchanges %d refusals %d calls %d; want 2, 3, 6",
			got.TokenExchanges, got.TokenRefusals, got.TokenCalls)
	}
}

func TestTokenExpiry(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Options{Now: clk.Now, Faults: Faults{TokenTTL: 2 * time.Second}})
	s.AddUser(User{UserID: "u1", TOTP: true})
	c := newTestClient(t, s)
	r := c.exchange(s.PoolID, s.Secret)
	if !strings.Contains(string(r.body.Data), `"expires_in":2}`) {
		t.Fatalf("data %s: want expires_in 2", r.body.Data)
	}
	c.login()
	if r := c.mfa("", "u1"); r.body.StatusCode != 200 {
		t.Fatalf("fresh token: %s", r.raw)
	}
	clk.Advance(1999 * time.Millisecond)
	if r := c.mfa("", "u1"); r.body.StatusCode != 200 {
		t.Fatalf("token before expiry: %s", r.raw)
	}
	clk.Advance(time.Millisecond)
	r = c.mfa("", "u1")
	if r.status != 200 || r.body.StatusCode != 401 {
		t.Fatalf("expired token: HTTP %d %s; want body statusCode 401", r.status, r.raw)
	}
	c.login()
	if r := c.mfa("", "u1"); r.body.StatusCode != 200 {
		t.Fatalf("refreshed token: %s", r.raw)
	}
	if got := s.Counters(); got.TokenExchanges != 3 || got.Unauthorized != 1 {
		t.Errorf("exchanges %d unauthorized %d; want 3, 1", got.TokenExchanges, got.Unauthorized)
	}
}

func TestUnauthorizedShapes(t *testing.T) {
	for _, http401 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http401=%v", http401), func(t *testing.T) {
			s := startServer(t, Options{Faults: Faults{HTTP401: http401}})
			s.AddUser(User{UserID: "u1"})
			c := newTestClient(t, s)
			wantHTTP := 200
			if http401 {
				wantHTTP = 401
			}
			check := func(name string, token string) {
				t.Helper()
				c.token = token
				r := c.mfa("user_id", "u1")
				if r.status != wantHTTP || r.decErr != nil || r.body.StatusCode != 401 || r.body.Message == "" {
					t.Errorf("%s: HTTP %d %s; want HTTP %d and body statusCode 401", name, r.status, r.raw, wantHTTP)
				}
			}
			check("missing token", "")
			check("unknown token", "a.b.c")
			tok := c.login()
			s.RevokeTokens()
			check("revoked token", tok)
			tok = c.login()
			check("token with a stray byte", tok+"x")
			c.token = tok
			if r := c.mfa("user_id", "u1"); r.status != 200 || r.body.StatusCode != 200 {
				t.Errorf("valid token: HTTP %d %s", r.status, r.raw)
			}
			req := c.mfaRequest(http.MethodGet, "user_id", "u1")
			req.Header.Set("Authorization", "bearer "+tok) // scheme is case-insensitive
			if r := c.do(req); r.body.StatusCode != 200 {
				t.Errorf("lower-case bearer: %s", r.raw)
			}
			if got := s.Counters(); got.Unauthorized != 4 || got.Answered != 1 {
				t.Errorf("unauthorized %d answered %d; want 4, 1", got.Unauthorized, got.Answered)
			}
		})
	}
}

func TestPoolHeaders(t *testing.T) {
	s := startServer(t, Options{PoolID: "pool-9", Secret: "s3"})
	s.AddUser(User{UserID: "u1"})
	c := newTestClient(t, s)
	c.login()
	for _, tc := range []struct {
		name string
		edit func(h http.Header)
	}{
		{"no x-authing-userpool-id", func(h http.Header) { h.Del("x-authing-userpool-id") }},
		{"no x-genauth-userpool-id", func(h http.Header) { h.Del("x-genauth-userpool-id") }},
		{"other pool", func(h http.Header) { h.Set("x-genauth-userpool-id", "pool-8") }},
	} {
		req := c.mfaRequest(http.MethodGet, "", "u1")
		tc.edit(req.Header)
		r := c.do(req)
		if r.status != 200 || r.body.StatusCode != 403 {
			t.Errorf("%s: HTTP %d %s; want body statusCode 403", tc.name, r.status, r.raw)
		}
	}
	if got := s.Counters(); got.Forbidden != 3 || got.Answered != 0 {
		t.Errorf("forbidden %d answered %d; want 3, 0", got.Forbidden, got.Answered)
	}
}

func TestLookupByEachIDType(t *testing.T) {
	s := startServer(t, Options{})
	s.AddUsers(
		User{UserID: "u-1", Username: "alice", Email: "alice@example.com", Phone: "+86 138-0000-0001",
			ExternalID: "emp-1", Identities: []string{"wecom:alice"}, SyncRelations: []string{"lark:ou_alice"},
			TOTP: true, Face: false, SMS: true, EmailMFA: false},
		User{UserID: "u-2", Username: "bob", Email: "bob@example.com", Phone: "13800000002",
			Identities: []string{"github:1234", "google:5678"}, Face: true, EmailMFA: true},
	)
	c := newTestClient(t, s)
	c.login()
	for _, tc := range []struct {
		idType, id             string
		totp, face, sms, email bool
	}{
		{"", "u-1", true, false, true, false}, // default userIdType is user_id
		{"user_id", "u-1", true, false, true, false},
		{"username", "alice", true, false, true, false},
		{"email", "alice@example.com", true, false, true, false},
		{"email", "Alice@EXAMPLE.com", true, false, true, false}, // e-mails match whatever their case
		{"phone", "+86 138-0000-0001", true, false, true, false},
		{"external_id", "emp-1", true, false, true, false},
		{"identity", "wecom:alice", true, false, true, false},
		{"sync_relation", "lark:ou_alice", true, false, true, false},
		{"user_id", "u-2", false, true, false, true},
		{"phone", "13800000002", false, true, false, true},
		{"identity", "google:5678", false, true, false, true},
	} {
		r := c.mfa(tc.idType, tc.id)
		m := statuses(t, r)
		if !uuidRE.MatchString(r.body.RequestID) || r.body.Message != "Success" {
			t.Errorf("%s %s: requestId %q message %q", tc.idType, tc.id, r.body.RequestID, r.body.Message)
		}
		got := [4]bool{bound(t, m["totpStatus"]), bound(t, m["faceMfaStatus"]), bound(t, m["smsMfaStatus"]), bound(t, m["emailMfaStatus"])}
		if want := [4]bool{tc.totp, tc.face, tc.sms, tc.email}; got != want {
			t.Errorf("%s %s: totp/face/sms/email = %v, want %v", tc.idType, tc.id, got, want)
		}
	}
	// An id of one type does not match under another; only e-mails fold case.
	if r := c.mfa("username", "u-1"); r.body.StatusCode != 404 {
		t.Errorf("user_id looked up as username: %s", r.raw)
	}
	if r := c.mfa("username", "Alice"); r.body.StatusCode != 404 {
		t.Errorf("username matched in another case: %s", r.raw)
	}
}

func TestMalformedIDs(t *testing.T) {
	s := startServer(t, Options{Synthesize: true})
	c := newTestClient(t, s)
	c.login()
	for _, tc := range []struct{ idType, id string }{
		{"user_id", ""},
		{"user_id", "   "},
		{"email", "not-an-email"},
		{"phone", "12"},
		{"phone", "abc12345"},
		{"phone", "+"},
		{"phone", "1234x5678"},
		{"identity", "no-colon"},
		{"identity", ":id"},
		{"sync_relation", "lark:"},
		{"nickname", "alice"},
	} {
		if WellFormed(tc.idType, tc.id) {
			t.Errorf("WellFormed(%q, %q) = true", tc.idType, tc.id)
		}
		r := c.mfa(tc.idType, tc.id)
		if r.status != 200 || r.body.StatusCode != 400 || len(r.body.APICode) == 0 || r.body.RequestID == "" {
			t.Errorf("%s %q: HTTP %d %s; want HTTP 200, statusCode 400 with apiCode and requestId", tc.idType, tc.id, r.status, r.raw)
		}
		if tc.idType != "nickname" && r.body.Message != "参数 userId 格式错误" {
			t.Errorf("%s %q: message %q", tc.idType, tc.id, r.body.Message)
		}
	}
	c.lang = "en-US"
	if r := c.mfa("email", "x"); r.body.Message != "invalid argument: userId" {
		t.Errorf("English message %q", r.body.Message)
	}
	for _, ok := range []struct{ idType, id string }{
		{"phone", "+8613800000000"}, {"phone", "138 0000-0000"}, {"email", "a@b"}, {"identity", "a:b:c"},
	} {
		if !WellFormed(ok.idType, ok.id) {
			t.Errorf("WellFormed(%q, %q) = false", ok.idType, ok.id)
		}
	}
	if got := s.Counters(); got.Invalid != 12 || got.Answered != 12 {
		t.Errorf("invalid %d answered %d; want 12, 12", got.Invalid, got.Answered)
	}
}

func TestUnknownUser(t *testing.T) {
	s := startServer(t, Options{})
	c := newTestClient(t, s)
	c.login()
	r := c.mfa("email", "ghost@example.com")
	if r.status != 200 || r.body.StatusCode != 404 || string(r.body.APICode) != "2004" ||
		r.body.Message != "用户不存在" || !uuidRE.MatchString(r.body.RequestID) || r.body.Data != nil {
		t.Errorf("unknown user: HTTP %d %s", r.status, r.raw)
	}
	c.lang = "en-US"
	if r := c.mfa("", "ghost"); r.body.Message != "user does not exist" {
		t.Errorf("English: %s", r.raw)
	}
	req := c.mfaRequest(http.MethodGet, "", "ghost")
	req.Header.Del("x-authing-lang")
	req.Header.Set("x-genauth-lang", "en-US")
	if r := c.do(req); r.body.Message != "user does not exist" {
		t.Errorf("x-genauth-lang: %s", r.raw)
	}
	if got := s.Counters(); got.NotFound != 3 || got.Answered != 2 || got.AnsweredTwice != 1 {
		t.Errorf("not found %d answered %d twice %d; want 3, 2, 1", got.NotFound, got.Answered, got.AnsweredTwice)
	}
}

func TestStatusForms(t *testing.T) {
	s := startServer(t, Options{})
	var users []User
	for i := range 40 {
		users = append(users, User{UserID: fmt.Sprintf("u%d", i), TOTP: i%2 == 0, SMS: true})
	}
	s.AddUsers(users...)
	c := newTestClient(t, s)
	c.login()

	forms := func() (strs, bools int) {
		for _, u := range users {
			m := statuses(t, c.mfa("", u.UserID))
			if len(m) != 4 {
				t.Fatalf("%s: %d fields, want 4", u.UserID, len(m))
			}
			switch v := string(m["smsMfaStatus"]); v {
			case `"enabled"`:
				strs++
			case "true":
				bools++
			default:
				t.Fatalf("smsMfaStatus %s", v)
			}
			if bound(t, m["totpStatus"]) != u.TOTP {
				t.Fatalf("%s: totp %s", u.UserID, m["totpStatus"])
			}
		}
		return strs, bools
	}
	if s, b := forms(); s != 40 || b != 0 {
		t.Errorf("default: %d strings %d booleans; want all strings", s, b)
	}
	s.SetFaults(Faults{BoolStatuses: true})
	if s, b := forms(); s != 0 || b != 40 {
		t.Errorf("BoolStatuses: %d strings %d booleans; want all booleans", s, b)
	}
	s.SetFaults(Faults{MixedStatuses: true})
	if s, b := forms(); s == 0 || b == 0 {
		t.Errorf("MixedStatuses: %d strings %d booleans; want both", s, b)
	}
}

func TestLegacyUsers(t *testing.T) {
	s := startServer(t, Options{})
	c := newTestClient(t, s)
	c.login()
	var omitted, null int
	for i := range 20 {
		id := fmt.Sprintf("old-%d", i)
		s.AddUser(User{UserID: id, TOTP: true, SMS: true, EmailMFA: true, Legacy: true})
		m := statuses(t, c.mfa("", id))
		if !bound(t, m["totpStatus"]) || bound(t, m["faceMfaStatus"]) {
			t.Fatalf("%s: %v", id, m)
		}
		sms, hasSMS := m["smsMfaStatus"]
		email, hasEmail := m["emailMfaStatus"]
		switch {
		case !hasSMS && !hasEmail:
			omitted++
		case string(sms) == "null" && string(email) == "null":
			null++
		default:
			t.Fatalf("%s: legacy user reports sms %s email %s", id, sms, email)
		}
	}
	if omitted == 0 || null == 0 {
		t.Errorf("legacy users: %d omitted, %d null; want both forms", omitted, null)
	}
}

func TestMethodAndBody(t *testing.T) {
	s := startServer(t, Options{})
	s.AddUser(User{UserID: "u1"})
	c := newTestClient(t, s)
	c.login()
	req := c.mfaRequest(http.MethodPost, "", "u1")
	req.Body = http.NoBody
	if r := c.do(req); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST: HTTP %d %s", r.status, r.raw)
	}
	req = c.mfaRequest(http.MethodGet, "", "u1")
	req.Body = ioNopCloser(`{"userId":"u1"}`)
	req.ContentLength = 15
	if r := c.do(req); r.status != 405 {
		t.Errorf("GET with a body: HTTP %d %s", r.status, r.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/api/v3/get-user", nil)
	if r := c.do(req); r.status != 404 || r.decErr != nil || r.body.StatusCode != 404 {
		t.Errorf("unknown path: HTTP %d %s", r.status, r.raw)
	}
	if got := s.Counters(); got.MethodNotAllowed != 2 || got.OtherCalls != 1 || got.Answered != 0 || got.Requests != 2 {
		t.Errorf("counters %+v", got)
	}
}

func TestSynthesize(t *testing.T) {
	s := startServer(t, Options{Synthesize: true})
	s.AddUser(User{UserID: "dir-1", Face: true})
	c := newTestClient(t, s)
	c.login()
	const n = 400
	var found, totp int
	for i := range n {
		idType, id := "email", fmt.Sprintf("person%d@example.com", i)
		if i%2 == 1 {
			idType, id = "user_id", fmt.Sprintf("%024x", i*7919)
		}
		wantFound, wt, wf, ws, we := SynthesizedState(idType, id)
		r := c.mfa(idType, id)
		if !wantFound {
			if r.body.StatusCode != 404 {
				t.Fatalf("%s: %s; SynthesizedState says not found", id, r.raw)
			}
			continue
		}
		found++
		m := statuses(t, r)
		got := [4]bool{bound(t, m["totpStatus"]), bound(t, m["faceMfaStatus"]), bound(t, m["smsMfaStatus"]), bound(t, m["emailMfaStatus"])}
		if got != [4]bool{wt, wf, ws, we} {
			t.Fatalf("%s: %v, SynthesizedState says %v", id, got, [4]bool{wt, wf, ws, we})
		}
		if wt {
			totp++
		}
	}
	// Loose bounds: ~96 % found, ~55 % TOTP.
	if found < n*90/100 || found == n {
		t.Errorf("found %d of %d; want about 96 %%", found, n)
	}
	if totp < found*45/100 || totp > found*65/100 {
		t.Errorf("TOTP %d of %d; want about 55 %%", totp, found)
	}
	// The directory wins over synthesis; list-users serves the directory only.
	if m := statuses(t, c.mfa("", "dir-1")); !bound(t, m["faceMfaStatus"]) || bound(t, m["totpStatus"]) {
		t.Errorf("directory user: %v", m)
	}
	if r := c.list(`{}`); !strings.Contains(string(r.body.Data), `"totalCount":1,`) {
		t.Errorf("list-users in synthesize mode: %s", r.body.Data)
	}
}

func TestListUsersPagination(t *testing.T) {
	s := startServer(t, Options{})
	for i := range 23 {
		s.AddUser(User{UserID: fmt.Sprintf("u%02d", i), Username: fmt.Sprintf("user%02d", i),
			Email: fmt.Sprintf("u%02d@example.com", i), DepartmentIDs: []string{"d1"}})
	}
	s.AddUser(User{UserID: "u05", Username: "renamed"}) // replaces in place
	c := newTestClient(t, s)
	c.login()
	type page struct {
		TotalCount int `json:"totalCount"`
		List       []struct {
			UserID        string    `json:"userId"`
			Username      string    `json:"username"`
			Email         *string   `json:"email"`
			Status        string    `json:"status"`
			DepartmentIDs *[]string `json:"departmentIds"`
		} `json:"list"`
	}
	get := func(body string) page {
		t.Helper()
		r := c.list(body)
		if r.status != 200 || r.body.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d %s", body, r.status, r.raw)
		}
		var p page
		if err := json.Unmarshal(r.body.Data, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var ids []string
	for pg := 1; pg <= 4; pg++ {
		p := get(fmt.Sprintf(`{"options":{"pagination":{"page":%d,"limit":10}}}`, pg))
		if p.TotalCount != 23 {
			t.Errorf("page %d: totalCount %d", pg, p.TotalCount)
		}
		if want := []int{10, 10, 3, 0}[pg-1]; len(p.List) != want {
			t.Errorf("page %d: %d users, want %d", pg, len(p.List), want)
		}
		for _, u := range p.List {
			ids = append(ids, u.UserID)
			if u.Status != "Activated" || u.DepartmentIDs != nil {
				t.Errorf("%s: status %q departmentIds %v (not asked for)", u.UserID, u.Status, u.DepartmentIDs)
			}
		}
	}
	for i, id := range ids {
		if id != fmt.Sprintf("u%02d", i) {
			t.Fatalf("order: %v", ids)
		}
	}
	if p := get(`{}`); len(p.List) != 10 || p.List[5].Username != "renamed" || p.List[5].Email != nil {
		t.Errorf("default page: %d users, [5] = %+v", len(p.List), p.List[5])
	}
	if p := get(`{"options":{"pagination":{"page":1,"limit":50},"withDepartmentIds":true}}`); len(p.List) != 23 ||
		p.List[0].DepartmentIDs == nil || (*p.List[0].DepartmentIDs)[0] != "d1" || len(*p.List[5].DepartmentIDs) != 0 {
		t.Errorf("limit 50 with departments: %d users, first %+v", len(p.List), p.List[0])
	}
	for _, bad := range []string{
		`{"options":{"pagination":{"page":1,"limit":51}}}`,
		`{"options":{"pagination":{"page":0,"limit":10}}}`,
		`{"options":{"pagination":{"page":1,"limit":0}}}`,
		`{"options":`,
	} {
		if r := c.list(bad); r.status != 200 || r.body.StatusCode != 400 {
			t.Errorf("%s: HTTP %d %s; want body statusCode 400", bad, r.status, r.raw)
		}
	}
	c.token = ""
	if r := c.list(`{}`); r.body.StatusCode != 401 {
		t.Errorf("list without a token: %s", r.raw)
	}
	if got := s.Counters(); got.ListCalls != 11 || got.Requests != 0 {
		t.Errorf("list calls %d MFA requests %d; want 11, 0", got.ListCalls, got.Requests)
	}
}

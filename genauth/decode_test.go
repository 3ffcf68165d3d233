package genauth

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bools renders an MFAInfo's four statuses as "T", "F" or "-" (not reported).
func bools(i MFAInfo) string {
	var b strings.Builder
	for _, p := range []*bool{i.TOTP, i.Face, i.SMS, i.Email} {
		switch {
		case p == nil:
			b.WriteByte('-')
		case *p:
			b.WriteByte('T')
		default:
			b.WriteByte('F')
		}
	}
	return b.String()
}

func TestDecodeMFA(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    string // TOTP, face, SMS, e-mail
		wantErr string // substring of the error; "" = success
	}{
		{"strings", `{"totpStatus":"enabled","faceMfaStatus":"disabled","smsMfaStatus":"enabled","emailMfaStatus":"disabled"}`, "TFTF", ""},
		{"booleans", `{"totpStatus":true,"faceMfaStatus":false,"smsMfaStatus":false,"emailMfaStatus":true}`, "TFFT", ""},
		{"mixed case and spaces", `{"totpStatus":"Enabled","faceMfaStatus":" DISABLED ","smsMfaStatus":"TRUE","emailMfaStatus":"false"}`, "TFTF", ""},
		{"null means not reported", `{"totpStatus":null,"faceMfaStatus":"enabled","smsMfaStatus":null,"emailMfaStatus":null}`, "-T--", ""},
		{"missing means not reported (old servers: TOTP and face only)", `{"totpStatus":"disabled","faceMfaStatus":"disabled"}`, "FF--", ""},
		{"empty object", `{}`, "----", ""},
		{"unknown fields ignored", `{"totpStatus":true,"webauthnStatus":"weird"}`, "T---", ""},
		{"bad string", `{"totpStatus":"yes"}`, "", "totpStatus: unexpected value"},
		{"empty string", `{"faceMfaStatus":""}`, "", "faceMfaStatus"},
		{"number", `{"smsMfaStatus":1}`, "", "smsMfaStatus: unexpected value 1"},
		{"zero", `{"emailMfaStatus":0}`, "", "emailMfaStatus"},
		{"object", `{"totpStatus":{"enabled":true}}`, "", "totpStatus"},
		{"array", `{"totpStatus":["enabled"]}`, "", "totpStatus"},
		{"long value is cut in the message", `{"totpStatus":"` + strings.Repeat("x", 200) + `"}`, "", "..."},
		{"data null", `null`, "", "success without data"},
		{"data missing", ``, "", "success without data"},
		{"data a string", `"enabled"`, "", "not an object"},
		{"data an array", `[true,true]`, "", "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := decodeMFA([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("decodeMFA = %s, want error containing %q", bools(info), tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errMalformed) {
					t.Fatalf("error %q: want errMalformed containing %q", err, tt.wantErr)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error message too long (%d bytes)", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeMFA: %v", err)
			}
			if got := bools(info); got != tt.want {
				t.Errorf("statuses = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    envelope // Data compared as string below
		data    string
		wantErr string
	}{
		{
			name: "success",
			body: `{"statusCode":200,"message":"Success","requestId":"r1","data":{"a":1}}`,
			want: envelope{StatusCode: 200, HasStatus: true, Message: "Success", RequestID: "r1"},
			data: `{"a":1}`,
		},
		{
			name: "apiCode as number",
			body: `{"statusCode":404,"apiCode":2004,"message":"用户不存在","requestId":"r2"}`,
			want: envelope{StatusCode: 404, HasStatus: true, APICode: "2004", Message: "用户不存在", RequestID: "r2"},
		},
		{
			name: "apiCode as string",
			body: `{"statusCode":404,"apiCode":"2004","message":"user does not exist"}`,
			want: envelope{StatusCode: 404, HasStatus: true, APICode: "2004", Message: "user does not exist"},
		},
		{
			name: "statusCode as string, data null",
			body: ` {"statusCode":"429","message":"您的请求已超过最大数量限制，请稍后重试","data":null}` + "\n",
			want: envelope{StatusCode: 429, HasStatus: true, Message: "您的请求已超过最大数量限制，请稍后重试"},
		},
		{
			name: "statusCode as 200.0",
			body: `{"statusCode":200.0}`,
			want: envelope{StatusCode: 200, HasStatus: true},
		},
		{
			name: "no statusCode",
			body: `{"message":"hello"}`,
			want: envelope{Message: "hello"},
		},
		{
			name: "message of an odd kind is kept as JSON",
			body: `{"statusCode":400,"message":{"zh":"错误","en":"bad"},"requestId":12}`,
			want: envelope{StatusCode: 400, HasStatus: true, Message: `{"zh":"错误","en":"bad"}`, RequestID: "12"},
		},
		{name: "statusCode not a number", body: `{"statusCode":"ok"}`, wantErr: "statusCode"},
		{name: "statusCode fractional", body: `{"statusCode":200.5}`, wantErr: "statusCode"},
		{name: "statusCode a boolean", body: `{"statusCode":true}`, wantErr: "statusCode"},
		{name: "HTML error page", body: "<html><body><h1>502 Bad Gateway</h1></body></html>", wantErr: "not a JSON object"},
		{name: "truncated JSON", body: `{"statusCode":200,"data":{"totpStatus":"enab`, wantErr: "invalid JSON"},
		{name: "empty body", body: "", wantErr: "empty body"},
		{name: "whitespace body", body: " \n\t", wantErr: "empty body"},
		{name: "array", body: `[{"statusCode":200}]`, wantErr: "not a JSON object"},
		{name: "trailing garbage", body: `{"statusCode":200} {}`, wantErr: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errMalformed) {
					t.Fatalf("err = %v, want errMalformed containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeEnvelope: %v", err)
			}
			if string(env.Data) != tt.data {
				t.Errorf("Data = %q, want %q", env.Data, tt.data)
			}
			env.Data = nil
			if !reflect.DeepEqual(env, tt.want) {
				t.Errorf("envelope = %+v, want %+v", env, tt.want)
			}
		})
	}
}

func TestDecodeEnvelopeDoesNotQuoteBody(t *testing.T) {
	// A broken token answer must not carry the token into an error text.
	body := `{"statusCode":200,"data":{"access_token":"eyJSECRETTOKEN","expires_in":` // truncated
	_, err := decodeEnvelope([]byte(body))
	if err == nil || strings.Contains(err.Error(), "eyJSECRETTOKEN") {
		t.Fatalf("err = %v: want an error that does not quote the body", err)
	}
}

func TestClassify(t *testing.T) {
	type want struct {
		verdict   verdict
		class     Class
		throttled bool
	}
	ok := want{verdict: verdictOK}
	retry := want{verdict: verdictRetry}
	throttled := want{verdict: verdictRetry, throttled: true}
	unauth := want{verdict: verdictUnauthorized}
	final := func(c Class) want { return want{verdict: verdictFinal, class: c} }
	html := "<html><body>error</body></html>"
	body := func(code int) string { return `{"statusCode":` + strconv.Itoa(code) + `,"message":"m"}` }

	tests := []struct {
		http int
		body string
		want want
	}{
		// HTTP 200: the body decides.
		{200, body(200), ok},
		{200, body(400), final(ClassInvalid)},
		{200, body(422), final(ClassInvalid)},
		{200, `{"statusCode":404,"apiCode":2004,"message":"用户不存在"}`, final(ClassNotFound)},
		{200, `{"statusCode":404,"message":"no such user"}`, final(ClassNotFound)},
		{200, `{"statusCode":400,"apiCode":"2004","message":"用户不存在"}`, final(ClassNotFound)},
		{200, `{"statusCode":404,"apiCode":2224,"message":"user pool not found"}`, final(ClassAuth)},
		{200, body(401), unauth},
		{200, body(403), final(ClassFatal)},
		{200, `{"statusCode":429,"message":"您的请求已超过最大数量限制，请稍后重试"}`, throttled},
		{200, body(500), retry},
		{200, body(502), retry},
		{200, body(503), retry},
		{200, body(504), retry},
		{200, body(408), retry},
		{200, body(418), final(ClassFatal)},
		{200, body(409), final(ClassFatal)},
		{200, body(302), final(ClassFatal)},
		{200, html, retry},
		{200, `{"statusCode":200,"data":{"totp`, retry},
		{200, `{"message":"no status"}`, retry},
		{200, "", retry},
		{204, "", retry},
		{201, body(200), ok},
		// A non-2xx HTTP status decides, whatever the body says.
		{429, html, throttled},
		{429, body(200), throttled},
		{500, html, retry},
		{502, "", retry},
		{503, body(503), retry},
		{504, body(200), retry},
		{408, "", retry},
		{401, html, unauth},
		{401, body(200), unauth},
		{403, body(403), final(ClassFatal)},
		{403, html, final(ClassFatal)},
		// Only a GenAuth envelope says "not found" or "invalid": an HTTP
		// 404/400 of any other body is an endpoint error.
		{404, html, final(ClassEndpoint)},
		{404, "", final(ClassEndpoint)},
		{404, `{"error":"not found","path":"/api/v3/get-user-mfa-info"}`, final(ClassEndpoint)},
		{404, `{"statusCode":"nope"}`, final(ClassEndpoint)},
		{404, `{"statusCode":404,"apiCode":2004}`, final(ClassNotFound)},
		{404, `{"statusCode":404,"message":"user does not exist","requestId":"r1"}`, final(ClassNotFound)},
		{404, `{"statusCode":404,"message":"Cannot GET /x/api/v3/get-user-mfa-info","error":"Not Found"}`, final(ClassEndpoint)},
		{404, `{"statusCode":400,"apiCode":2004}`, final(ClassNotFound)},
		{404, `{"statusCode":404,"apiCode":2224}`, final(ClassAuth)},
		{404, `{"statusCode":500,"message":"m"}`, final(ClassEndpoint)},
		{400, body(400), final(ClassInvalid)},
		{400, html, final(ClassEndpoint)},
		{400, "", final(ClassEndpoint)},
		{400, `{"code":400}`, final(ClassEndpoint)},
		{422, "", final(ClassEndpoint)},
		{422, body(422), final(ClassInvalid)},
		{302, "", final(ClassFatal)},
		{405, html, final(ClassEndpoint)},
		{405, body(405), final(ClassEndpoint)},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.http) + "/" + tt.body
		if len(name) > 50 {
			name = name[:50]
		}
		t.Run(name, func(t *testing.T) {
			env, envErr := decodeEnvelope([]byte(tt.body))
			j := classify(tt.http, env, envErr)
			got := want{j.verdict, j.class, j.throttled}
			if got != tt.want {
				t.Errorf("classify(HTTP %d, %q) = %+v, want %+v", tt.http, tt.body, got, tt.want)
			}
			if j.verdict != verdictOK && j.message == "" {
				t.Errorf("no message for a failure")
			}
		})
	}
}

func TestDecodeToken(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		token   string
		exp     time.Duration
		wantErr bool
	}{
		{"usual", `{"access_token":"abc","expires_in":7200}`, "abc", 7200 * time.Second, false},
		{"expires_in as string", `{"access_token":"abc","expires_in":"3"}`, "abc", 3 * time.Second, false},
		{"expires_in fractional", `{"access_token":"abc","expires_in":2.5}`, "abc", 2500 * time.Millisecond, false},
		{"expires_in missing", `{"access_token":"abc"}`, "abc", 0, false},
		{"expires_in zero", `{"access_token":"abc","expires_in":0}`, "abc", 0, false},
		{"expires_in absurd", `{"access_token":"abc","expires_in":1e12}`, "abc", 0, false},
		{"expires_in bad", `{"access_token":"abc","expires_in":"soon"}`, "", 0, true},
		{"empty token", `{"access_token":"","expires_in":7200}`, "", 0, true},
		{"blank token", `{"access_token":"  ","expires_in":7200}`, "", 0, true},
		{"token not a string", `{"access_token":12345}`, "", 0, true},
		{"no token", `{"expires_in":7200}`, "", 0, true},
		{"no data", `null`, "", 0, true},
		{"data array", `[]`, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, exp, err := decodeToken([]byte(tt.data))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decodeToken = %q, %v; want an error", tok, exp)
				}
				return
			}
			if err != nil || tok != tt.token || exp != tt.exp {
				t.Errorf("decodeToken = %q, %v, %v; want %q, %v", tok, exp, err, tt.token, tt.exp)
			}
		})
	}
}

func TestDecodeUsers(t *testing.T) {
	data := `{"totalCount":"3","list":[
		{"userId":"u1","username":"alice","email":"a@example.com","phone":"+8613800000000","status":"Activated","externalId":null,"departmentIds":["d1","d2"]},
		{"userId":"u2","username":null,"phone":13800000001,"departmentIds":null,"customData":{"x":1}},
		{"userId":"u3","departmentIds":["d3",null,""]}
	]}`
	users, total, err := decodeUsers([]byte(data))
	if err != nil {
		t.Fatalf("decodeUsers: %v", err)
	}
	want := []User{
		{UserID: "u1", Username: "alice", Email: "a@example.com", Phone: "+8613800000000", Status: "Activated", DepartmentIDs: []string{"d1", "d2"}},
		{UserID: "u2", Phone: "13800000001"},
		{UserID: "u3", DepartmentIDs: []string{"d3"}},
	}
	if total != 3 || !reflect.DeepEqual(users, want) {
		t.Errorf("decodeUsers = %+v, %d\nwant %+v, 3", users, total, want)
	}

	for _, bad := range []string{`null`, `[]`, `{"totalCount":1,"list":[1]}`, `{"totalCount":"many","list":[]}`, `{"list":{"a":1}}`} {
		if _, _, err := decodeUsers([]byte(bad)); err == nil {
			t.Errorf("decodeUsers(%s): want an error", bad)
		}
	}
	users, total, err = decodeUsers([]byte(`{"totalCount":0,"list":null}`))
	if err != nil || total != 0 || len(users) != 0 {
		t.Errorf("empty page = %v, %d, %v", users, total, err)
	}
}

func TestJWTClaims(t *testing.T) {
	tests := []struct {
		name string
		tok  string
		want claims
	}{
		{"pool and times", makeJWT(map[string]any{"scoped_userpool_id": "pool-x", "iat": 1000, "exp": 8200}), claims{"pool-x", 1000, 8200}},
		{"no pool", makeJWT(map[string]any{"exp": 99}), claims{exp: 99}},
		{"padded payload", strings.Replace(makeJWT(map[string]any{"scoped_userpool_id": "p"}), ".c2ln", "==.c2ln", 1), claims{poolID: "p"}},
		{"not a JWT", "opaque-token", claims{}},
		{"bad base64", "a.!!!.c", claims{}},
		{"payload not JSON", "a.bm90IGpzb24.c", claims{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jwtClaims(tt.tok); got != tt.want {
				t.Errorf("jwtClaims = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bodies through every decoder and the
// classification: none may panic, and a success must be a whole answer.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		mfaOK,
		`{"statusCode":200,"data":{"totpStatus":true,"faceMfaStatus":null}}`,
		`{"statusCode":"404","apiCode":2004,"message":"用户不存在"}`,
		`{"statusCode":429}`,
		`{"statusCode":200,"data":{"access_token":"x.eyJhIjoxfQ.y","expires_in":"2"}}`,
		`{"statusCode":200,"data":{"totalCount":2,"list":[{"userId":1},{"departmentIds":[null]}]}}`,
		`<html>502</html>`,
		`{"statusCode":200,"data":{"totp`,
		`{"statusCode":1e400}`,
		`{"statusCode":-0.0,"data":[]}`,
		``,
	} {
		f.Add([]byte(seed), 200)
	}
	f.Add([]byte(`{}`), 503)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		env, envErr := decodeEnvelope(body)
		j := classify(status, env, envErr)
		if j.verdict == verdictFinal && j.class == 0 {
			t.Fatalf("final verdict without a class for HTTP %d %q", status, body)
		}
		if j.verdict == verdictOK && (envErr != nil || env.StatusCode != 200) {
			t.Fatalf("success for HTTP %d %q", status, body)
		}
		if info, err := decodeMFA(env.Data); err == nil && info.Attempts != 0 {
			t.Fatal("decodeMFA set Attempts")
		}
		_, _, _ = decodeToken(env.Data)
		_, _, _ = decodeUsers(env.Data)
		_, _, _ = decodeToken(body)
		_, _, _ = decodeUsers(body)
		_, _ = decodeMFA(body)
		_ = jwtClaims(string(body))
	})
}

package genauthtest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth"
)

// The endpoints.
const (
	PathToken     = "/api/v3/get-management-token"
	PathMFAInfo   = "/api/v3/get-user-mfa-info"
	PathListUsers = "/api/v3/list-users"
)

// Business codes in answer bodies.
const (
	apiCodeInvalidArg   = 1001 // not pinned by any public source
	apiCodeUserNotFound = 2004 // genauth-api.md
	apiCodeBadSecret    = 2005 // not pinned by any public source
	apiCodePoolNotFound = 2224 // genauth-api.md
)

const maxListLimit = 50

var (
	ctJSON = []string{"application/json; charset=utf-8"}
	ctHTML = []string{"text/html"}
)

// serveHTTP routes by exact path.
var fakeHeader = []string{genauth.FakeValue}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	if s.ctx.Err() != nil { // closing
		panic(http.ErrAbortHandler)
	}
	// Every answer says it comes from the fake, so a run against it says
	// FAKE API in its reports.
	w.Header()[genauth.FakeHeader] = fakeHeader
	switch r.URL.Path {
	case PathMFAInfo:
		s.handleMFA(w, r)
	case PathToken:
		s.handleToken(w, r)
	case PathListUsers:
		s.handleList(w, r)
	default:
		// An unknown route gets the web framework's 404, with no apiCode
		// and no requestId, as GenAuth's own server (NestJS) answers it.
		s.ctrs.otherCalls.Add(1)
		b, _ := json.Marshal(struct {
			StatusCode int    `json:"statusCode"`
			Message    string `json:"message"`
			Error      string `json:"error"`
		}{http.StatusNotFound, "Cannot " + r.Method + " " + r.URL.Path, "Not Found"})
		writeJSON(w, http.StatusNotFound, b)
	}
}

// admit runs the steps every management call passes before its own work:
// the method (a GET carries no body), the MaxRPS limit, the latency, then
// the token and pool headers. It answers and reports false when the call
// stops there; otherwise it returns the faults in force.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, method string, en bool) (*Faults, bool) {
	if r.Method != method || (method == http.MethodGet && r.ContentLength != 0) {
		s.methodNotAllowed(w, method, en)
		return nil, false
	}
	f := s.faults.Load()
	if !s.limiter.allow(f.MaxRPS, s.clock(f.MaxRPS)) {
		s.rateLimited(w, en)
		return nil, false
	}
	if !s.sleep(r.Context(), f.Latency) {
		return nil, false
	}
	if !s.authorize(w, r, f, en) {
		return nil, false
	}
	return f, true
}

// handleMFA serves get-user-mfa-info. Order: method, MaxRPS, latency,
// token and pool headers, then the subject's attempt is counted and faults
// drawn for it, then the answer.
func (s *Server) handleMFA(w http.ResponseWriter, r *http.Request) {
	c := &s.ctrs
	c.requests.Add(1)
	c.enter()
	defer c.leave()
	en := english(r)
	f, ok := s.admit(w, r, http.MethodGet, en)
	if !ok {
		return
	}
	q := r.URL.Query()
	userID := q.Get("userId")
	idType := q.Get("userIdType")
	if idType == "" {
		idType = "user_id"
	}
	h := subjectHash(idType, userID)
	attempt, streak := s.subjects.attempt(h, idType, userID)
	if s.inject(w, r, f, h, attempt, streak, en) {
		return
	}
	if s.testHook != nil {
		s.testHook(r)
	}
	if r.Context().Err() != nil { // the client gave up: no answer
		return
	}
	if s.refuse(w, f, h, attempt, idType, userID, en) {
		return
	}

	t := idTypeIndex(idType)
	if t < 0 || !wellFormed(t, userID) {
		c.invalid.Add(1)
		s.final(h, idType, userID)
		m := msg(en, "参数 userId 格式错误", "invalid argument: userId")
		if t < 0 {
			m = msg(en, "参数 userIdType 格式错误", "invalid argument: userIdType")
		}
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusBadRequest, apiCodeInvalidArg, m, true))
		return
	}
	var st mfaState
	if u := s.dir.lookup(t, userID); u != nil {
		st = mfaState{totp: u.TOTP, face: u.Face, sms: u.SMS, email: u.EmailMFA}
		if u.Legacy {
			st.legacy = legacyOmit
			if mix(subjectHash("legacy", u.UserID))&1 == 1 {
				st.legacy = legacyNull
			}
		}
	} else {
		found := false
		if s.opts.Synthesize && (t != typeUserID || IsGenAuthID(userID)) {
			found, st.totp, st.face, st.sms, st.email = synthesized(h)
		}
		if !found {
			s.notFound(w, h, idType, userID, en)
			return
		}
	}
	asBool := f.BoolStatuses
	if f.MixedStatuses {
		asBool = s.draw(h, attempt, saltMixed) < 0.5
	}
	c.ok.Add(1)
	s.final(h, idType, userID)
	writeJSON(w, http.StatusOK, appendMFA(make([]byte, 0, 256), st, asBool))
}

// Business answers of the refusal switches.
const (
	apiCodeNoPermission = 1636 // what a key without the permission gets (issue 12)
)

// refuse answers the call itself when a refusal switch applies: an HTML 404
// page for the endpoint (Faults.HTML404), a permission error on every call
// (Faults.Forbidden) or on a share of calls drawn per request
// (Faults.ForbiddenRate). These are final answers, not transient faults.
func (s *Server) refuse(w http.ResponseWriter, f *Faults, h uint64, attempt uint32, idType, userID string, en bool) bool {
	switch {
	case f.HTML404:
		s.ctrs.endpointMissing.Add(1)
		s.final(h, idType, userID)
		writeBody(w, http.StatusNotFound, ctHTML, []byte(gatewayPage(http.StatusNotFound)))
		return true
	case f.Forbidden, f.ForbiddenRate > 0 && s.draw(h, attempt, saltForbidden) < f.ForbiddenRate:
		s.ctrs.denied.Add(1)
		s.final(h, idType, userID)
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusForbidden, apiCodeNoPermission,
			msg(en, "无权限访问该资源：get-user-mfa-info", "no permission for this resource: get-user-mfa-info"), true))
		return true
	}
	return false
}

// IsGenAuthID reports whether id is shaped like a GenAuth user id: 24
// hexadecimal characters (a MongoDB ObjectId). The real API answers "user
// does not exist" for a user_id of any other shape, and so does a Server
// with Options.Synthesize.
func IsGenAuthID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

type legacyMode uint8

const (
	legacyNone legacyMode = iota
	legacyOmit            // sms/email fields absent
	legacyNull            // sms/email fields null
)

type mfaState struct {
	totp, face, sms, email bool
	legacy                 legacyMode
}

func appendMFA(b []byte, st mfaState, asBool bool) []byte {
	b = append(b, `{"statusCode":200,"message":"Success","requestId":"`...)
	b = appendRequestID(b)
	b = append(b, `","data":{"totpStatus":`...)
	b = appendStatus(b, st.totp, asBool)
	b = append(b, `,"faceMfaStatus":`...)
	b = appendStatus(b, st.face, asBool)
	switch st.legacy {
	case legacyNone:
		b = append(b, `,"smsMfaStatus":`...)
		b = appendStatus(b, st.sms, asBool)
		b = append(b, `,"emailMfaStatus":`...)
		b = appendStatus(b, st.email, asBool)
	case legacyNull:
		b = append(b, `,"smsMfaStatus":null,"emailMfaStatus":null`...)
	}
	return append(b, "}}"...)
}

func appendStatus(b []byte, on, asBool bool) []byte {
	switch {
	case asBool && on:
		return append(b, "true"...)
	case asBool:
		return append(b, "false"...)
	case on:
		return append(b, `"enabled"`...)
	}
	return append(b, `"disabled"`...)
}

func (s *Server) notFound(w http.ResponseWriter, h uint64, idType, userID string, en bool) {
	s.ctrs.notFound.Add(1)
	s.final(h, idType, userID)
	writeJSON(w, http.StatusOK, appendError(nil, http.StatusNotFound, apiCodeUserNotFound,
		msg(en, "用户不存在", "user does not exist"), true))
}

// final counts a final answer for a subject.
func (s *Server) final(h uint64, idType, userID string) {
	c := &s.ctrs
	c.answers.Add(1)
	switch s.subjects.answer(h, idType, userID) {
	case 1:
		c.answered.Add(1)
	case 2:
		c.answeredTwice.Add(1)
	}
}

// authorize checks the bearer token and both pool headers, and answers the
// call itself when they are wrong.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, f *Faults, en bool) bool {
	var m string
	switch s.tokens.check(bearer(r.Header["Authorization"]), s.now()) {
	case tokenValid:
		a, g := r.Header["X-Authing-Userpool-Id"], r.Header["X-Genauth-Userpool-Id"]
		if len(a) == 1 && len(g) == 1 && a[0] == s.PoolID && g[0] == s.PoolID {
			return true
		}
		s.ctrs.forbidden.Add(1)
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusForbidden, 0,
			msg(en, "请求头 x-authing-userpool-id 与 x-genauth-userpool-id 缺失或与用户池不符",
				"headers x-authing-userpool-id and x-genauth-userpool-id are missing or do not name this user pool"), true))
		return false
	case tokenMissing:
		m = msg(en, "缺少访问令牌", "missing access token")
	case tokenExpired:
		m = msg(en, "访问令牌已过期", "access token expired")
	default:
		m = msg(en, "访问令牌无效", "invalid access token")
	}
	s.ctrs.unauthorized.Add(1)
	status := http.StatusOK
	if f.HTTP401 {
		status = http.StatusUnauthorized
		w.Header()["Www-Authenticate"] = []string{`Bearer error="invalid_token"`}
	}
	writeJSON(w, status, appendError(nil, http.StatusUnauthorized, 0, m, true))
	return false
}

func bearer(v []string) string {
	if len(v) == 0 {
		return ""
	}
	const p = "bearer "
	a := v[0]
	if len(a) < len(p) || !strings.EqualFold(a[:len(p)], p) {
		return ""
	}
	return strings.TrimSpace(a[len(p):])
}

// handleToken serves get-management-token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	c := &s.ctrs
	c.tokenCalls.Add(1)
	en := english(r)
	if r.Method != http.MethodPost {
		s.methodNotAllowed(w, http.MethodPost, en)
		return
	}
	f := s.faults.Load()
	if f.TokenFaults {
		if !s.limiter.allow(f.MaxRPS, s.clock(f.MaxRPS)) {
			s.rateLimited(w, en)
			return
		}
		if !s.sleep(r.Context(), f.Latency) {
			return
		}
		const key = "\x00get-management-token"
		h := subjectHash(key, "")
		attempt, streak := s.subjects.attempt(h, key, "")
		if s.inject(w, r, f, h, attempt, streak, en) {
			return
		}
		defer s.subjects.settle(h)
	}
	var req struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		c.tokenRefusals.Add(1)
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusBadRequest, apiCodeInvalidArg,
			msg(en, "请求体格式错误", "invalid request body"), true))
		return
	}
	if req.AccessKeyID != s.PoolID || req.AccessKeySecret != s.Secret {
		c.tokenRefusals.Add(1)
		code, m := apiCodeBadSecret, msg(en, "accessKeyId 或 accessKeySecret 错误", "invalid accessKeyId or accessKeySecret")
		if req.AccessKeyID != s.PoolID {
			code, m = apiCodePoolNotFound, msg(en, "用户池不存在", "user pool does not exist")
		}
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusUnauthorized, code, m, true))
		return
	}
	now := s.now()
	ttl := f.tokenTTL()
	tok := newToken(s.PoolID, now, ttl)
	s.tokens.add(tok, now.Add(ttl), now)
	c.tokenExchanges.Add(1)
	b := append([]byte(nil), `{"statusCode":200,"message":"Success","requestId":"`...)
	b = appendRequestID(b)
	b = append(b, `","data":{"access_token":"`...)
	b = append(b, tok...) // base64url and dots: nothing to escape
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, max(1, int64(ttl/time.Second)), 10)
	b = append(b, "}}"...)
	writeJSON(w, http.StatusOK, b)
}

// listUser is one record of the list-users answer; empty strings are null.
type listUser struct {
	UserID        string    `json:"userId"`
	Username      *string   `json:"username"`
	Email         *string   `json:"email"`
	Phone         *string   `json:"phone"`
	Status        string    `json:"status"`
	ExternalID    *string   `json:"externalId"`
	DepartmentIDs *[]string `json:"departmentIds,omitempty"`
}

// handleList serves list-users from the directory. departmentIds are only
// included when the request asks withDepartmentIds, as the real API does.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	c := &s.ctrs
	c.listCalls.Add(1)
	en := english(r)
	f, ok := s.admit(w, r, http.MethodPost, en)
	if !ok {
		return
	}
	type options struct {
		Pagination struct {
			Page  *int `json:"page"`
			Limit *int `json:"limit"`
		} `json:"pagination"`
		Sort              []listSort `json:"sort"`
		WithDepartmentIDs bool       `json:"withDepartmentIds"`
	}
	var req struct {
		Options           options `json:"options"`
		WithDepartmentIDs bool    `json:"withDepartmentIds"`
	}
	invalid := func(zh, enText string) {
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusBadRequest, apiCodeInvalidArg, msg(en, zh, enText), true))
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		invalid("请求体格式错误", "invalid request body")
		return
	}
	page, limit := 1, 10
	if p := req.Options.Pagination.Page; p != nil {
		page = *p
	}
	if l := req.Options.Pagination.Limit; l != nil {
		limit = *l
	}
	if page < 1 || page > 1<<24 {
		invalid("参数 page 格式错误", "invalid argument: page")
		return
	}
	if limit < 1 || limit > maxListLimit {
		invalid("参数 limit 必须在 1 到 50 之间", "invalid argument: limit must be between 1 and 50")
		return
	}
	key := "\x00list-users"
	pl := strconv.Itoa(page) + "/" + strconv.Itoa(limit)
	h := subjectHash(key, pl)
	attempt, streak := s.subjects.attempt(h, key, pl)
	if s.inject(w, r, f, h, attempt, streak, en) {
		return
	}
	if r.Context().Err() != nil {
		return
	}
	s.subjects.settle(h)
	lb := s.list.Load()
	if why := lb.checkSort(req.Options.Sort); why != "" {
		invalid("参数 sort 格式错误", why)
		return
	}
	users, total, refused := s.listPage(lb, req.Options.Sort, (page-1)*limit, limit, s.listSeq.Add(1))
	if refused != "" {
		invalid(refused, refused)
		return
	}
	s.churn(lb) // after this page, before the client can ask for the next
	withDept := req.WithDepartmentIDs || req.Options.WithDepartmentIDs
	list := make([]listUser, len(users))
	for i, u := range users {
		list[i] = listUser{
			UserID: u.UserID, Username: nullable(u.Username), Email: nullable(u.Email),
			Phone: nullable(u.Phone), Status: u.Status, ExternalID: nullable(u.ExternalID),
		}
		if withDept {
			d := append(make([]string, 0, len(u.DepartmentIDs)), u.DepartmentIDs...)
			list[i].DepartmentIDs = &d
		}
	}
	type data struct {
		TotalCount int        `json:"totalCount"`
		List       []listUser `json:"list"`
	}
	b, err := json.Marshal(struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		RequestID  string `json:"requestId"`
		Data       data   `json:"data"`
	}{200, "Success", string(appendRequestID(nil)), data{total, list}})
	if err != nil {
		panic(err) // cannot happen: plain strings
	}
	writeJSON(w, http.StatusOK, b)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// inject draws a fault for this attempt of subject h and, if one is due,
// answers with it. It returns true when the call is done (answered, reset
// or abandoned); a slow fault waits and returns false for a normal answer.
// attempt numbers the subject's attempts since the server started (every
// request draws afresh, so a second run meets faults too); streak counts
// those since its last final answer, which the FaultAttempts window bounds.
func (s *Server) inject(w http.ResponseWriter, r *http.Request, f *Faults, h uint64, attempt, streak uint32, en bool) bool {
	if !f.anyRate() || (s.faultAttempts >= 0 && int64(streak) >= int64(s.faultAttempts)) {
		return false
	}
	kind := f.pick(s.draw(h, attempt, saltFault))
	if kind == faultNone {
		return false
	}
	if s.logger.Enabled(r.Context(), slog.LevelDebug) {
		s.logger.Debug("injecting fault", "fault", kind.String(), "path", r.URL.Path,
			"query", r.URL.RawQuery, "attempt", streak+1)
	}
	c := &s.ctrs
	variant := s.draw(h, attempt, saltVariant)
	switch kind {
	case faultThrottle:
		c.throttled.Add(1)
		if ra := f.retryAfterHeader(); ra != "" {
			w.Header()["Retry-After"] = []string{ra}
		}
		if variant < 0.5 {
			writeBody(w, http.StatusTooManyRequests, ctHTML, []byte(gatewayPage(http.StatusTooManyRequests)))
		} else {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	case faultBody429:
		c.throttled.Add(1)
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusTooManyRequests, 0,
			msg(en, "您的请求已超过最大数量限制，请稍后重试", "Too many requests, please try again later"), false))
	case faultServerError:
		c.serverErrors.Add(1)
		code := http.StatusBadGateway
		switch {
		case variant < 1.0/3:
			code = http.StatusServiceUnavailable
			if ra := f.retryAfterHeader(); ra != "" {
				w.Header()["Retry-After"] = []string{ra}
			}
		case variant < 2.0/3:
			code = http.StatusInternalServerError
		}
		writeBody(w, code, ctHTML, []byte(gatewayPage(code)))
	case faultBody500:
		c.serverErrors.Add(1)
		writeJSON(w, http.StatusOK, appendError(nil, http.StatusInternalServerError, 0,
			msg(en, "服务器内部错误", "internal server error"), false))
	case faultReset:
		c.resets.Add(1)
		resetConn(w)
	case faultMalformed:
		c.malformed.Add(1)
		switch {
		case variant < 0.4:
			full := appendMFA(nil, mfaState{totp: true}, false)
			writeJSON(w, http.StatusOK, full[:len(full)*2/3])
		case variant < 0.6:
			writeJSON(w, http.StatusOK, []byte("<html><body>OK</body></html>"))
		case variant < 0.8:
			writeJSON(w, http.StatusOK, nil)
		default:
			writeJSON(w, http.StatusOK, []byte("\x1f\x8b\x08\x00\xff\xfe{\"statusCode\":2"))
		}
	case faultSlow:
		c.slow.Add(1)
		return !s.sleep(r.Context(), f.slowDelay())
	}
	return true
}

// resetConn closes the connection abruptly (RST) without answering. Without
// a hijackable connection (HTTP/2, a recorder) it aborts the handler, which
// net/http turns into a closed connection or a reset stream.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	var tcp *net.TCPConn
	switch c := conn.(type) {
	case *net.TCPConn:
		tcp = c
	case interface{ NetConn() net.Conn }: // *tls.Conn
		tcp, _ = c.NetConn().(*net.TCPConn)
	}
	if tcp != nil {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Server) rateLimited(w http.ResponseWriter, en bool) {
	s.ctrs.throttled.Add(1)
	s.ctrs.rateLimited.Add(1)
	w.Header()["Retry-After"] = []string{"1"}
	writeJSON(w, http.StatusTooManyRequests, appendError(nil, http.StatusTooManyRequests, 0,
		msg(en, "您的请求已超过最大数量限制，请稍后重试", "Too many requests, please try again later"), false))
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, allow string, en bool) {
	s.ctrs.methodNotAllowed.Add(1)
	w.Header()["Allow"] = []string{allow}
	writeJSON(w, http.StatusMethodNotAllowed, appendError(nil, http.StatusMethodNotAllowed, 0,
		msg(en, "请求方法不被允许，请使用 ", "method not allowed: use ")+allow, false))
}

// clock reads the server's clock only when the MaxRPS bucket needs it.
func (s *Server) clock(maxRPS float64) time.Time {
	if maxRPS <= 0 {
		return time.Time{}
	}
	return s.now()
}

// sleep waits d, or less if ctx ends or the server closes; it reports
// whether the whole wait elapsed (d <= 0: whether ctx is still live).
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if s.onWait != nil {
		s.onWait()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

func english(r *http.Request) bool {
	return isEN(r.Header["X-Authing-Lang"]) || isEN(r.Header["X-Genauth-Lang"])
}

func isEN(v []string) bool {
	return len(v) > 0 && len(v[0]) >= 2 && strings.EqualFold(v[0][:2], "en")
}

func msg(en bool, zh, enText string) string {
	if en {
		return enText
	}
	return zh
}

// appendError appends a business error body. Messages are constants with
// nothing to escape.
func appendError(b []byte, status, apiCode int, message string, withRequestID bool) []byte {
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if apiCode != 0 {
		b = append(b, `,"apiCode":`...)
		b = strconv.AppendInt(b, int64(apiCode), 10)
	}
	b = append(b, `,"message":"`...)
	b = append(b, message...)
	b = append(b, '"')
	if withRequestID {
		b = append(b, `,"requestId":"`...)
		b = appendRequestID(b)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendRequestID appends a random version-4 UUID.
func appendRequestID(b []byte) []byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], rand.Uint64())
	binary.BigEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexd[x>>4], hexd[x&0x0f])
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, ctJSON, body)
}

func writeBody(w http.ResponseWriter, status int, contentType []string, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func gatewayPage(code int) string {
	title := strconv.Itoa(code) + " " + http.StatusText(code)
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
}

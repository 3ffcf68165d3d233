package genauthtest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults are the fault switches of a Server. Rates are shares of attempts in
// [0, 1]; they are exclusive and drawn in the order listed (throttle,
// body429, 5xx, body500, reset, malformed, slow), so together they should
// not exceed 1. Every request draws afresh (a second run against the same
// server meets faults too), but faults hit at most Options.FaultAttempts
// attempts of a subject in a row before it gets a final answer (MaxRPS
// excepted). They hit list-users too, a "subject" there being one (page,
// limit), but never the token endpoint unless TokenFaults is set.
//
// The refusal switches (Forbidden, ForbiddenRate, HTML404) are not
// transient: they are final answers to get-user-mfa-info, as a key
// without permission or a wrong path prefix gives, and are not bounded by
// FaultAttempts. The zero value injects nothing.
type Faults struct {
	// Latency delays every get-user-mfa-info and list-users call (the wait
	// ends early when the client goes away).
	Latency time.Duration
	// SlowRate of attempts answer only after SlowDelay (default 30s),
	// meant to exceed the client's timeout.
	SlowRate  float64
	SlowDelay time.Duration

	// ThrottleRate of attempts get HTTP 429 with an HTML or empty body and,
	// when RetryAfter > 0, a Retry-After header (whole seconds, rounded up).
	ThrottleRate float64
	RetryAfter   time.Duration
	// BodyThrottleRate of attempts get HTTP 200 with body statusCode 429.
	BodyThrottleRate float64
	// ServerErrorRate of attempts get HTTP 502, 503 or 500 with an HTML
	// gateway page.
	ServerErrorRate float64
	// Body500Rate of attempts get HTTP 200 with body statusCode 500.
	Body500Rate float64
	// ResetRate of attempts have their connection reset (SO_LINGER 0)
	// before any answer.
	ResetRate float64
	// MalformedRate of attempts get HTTP 200 with a truncated or garbage
	// body.
	MalformedRate float64

	// BoolStatuses answers MFA statuses as JSON booleans instead of
	// "enabled"/"disabled"; MixedStatuses picks one form per request.
	BoolStatuses  bool
	MixedStatuses bool
	// TokenTTL is the lifetime of new tokens (default 7200s). The answer's
	// expires_in is TokenTTL in whole seconds (at least 1); the server
	// rejects the token from issue time + TokenTTL on its own clock.
	TokenTTL time.Duration
	// HTTP401 rejects a bad token with HTTP 401 instead of HTTP 200 and
	// body statusCode 401.
	HTTP401 bool
	// MaxRPS is a real server-side rate limit (token bucket, burst of one
	// second): calls above it get HTTP 429 with Retry-After: 1, on every
	// attempt. 0 means no limit.
	MaxRPS float64
	// TokenFaults applies Latency, MaxRPS and the rates to
	// get-management-token as well.
	TokenFaults bool

	// Forbidden answers every get-user-mfa-info call with HTTP 200, body
	// statusCode 403 and apiCode 1636, as for an access key without the
	// permission. ForbiddenRate does so for that share of calls, drawn per
	// request (scattered 403s in a healthy run).
	Forbidden     bool
	ForbiddenRate float64
	// HTML404 answers every get-user-mfa-info call with HTTP 404 and an
	// HTML page, as a proxy in front of a wrong path prefix does.
	HTML404 bool
}

const defaultSlowDelay = 30 * time.Second

// faultKind is what a draw decided for one attempt.
type faultKind int

const (
	faultNone faultKind = iota
	faultThrottle
	faultBody429
	faultServerError
	faultBody500
	faultReset
	faultMalformed
	faultSlow
)

var faultNames = [...]string{"none", "throttle", "body429", "5xx", "body500", "reset", "malformed", "slow"}

func (k faultKind) String() string { return faultNames[k] }

// pick maps a uniform draw u in [0,1) to a fault.
func (f *Faults) pick(u float64) faultKind {
	acc := 0.0
	for _, c := range [...]struct {
		rate float64
		kind faultKind
	}{
		{f.ThrottleRate, faultThrottle},
		{f.BodyThrottleRate, faultBody429},
		{f.ServerErrorRate, faultServerError},
		{f.Body500Rate, faultBody500},
		{f.ResetRate, faultReset},
		{f.MalformedRate, faultMalformed},
		{f.SlowRate, faultSlow},
	} {
		if c.rate <= 0 {
			continue
		}
		acc += c.rate
		if u < acc {
			return c.kind
		}
	}
	return faultNone
}

func (f *Faults) anyRate() bool {
	return f.ThrottleRate > 0 || f.BodyThrottleRate > 0 || f.ServerErrorRate > 0 || f.Body500Rate > 0 ||
		f.ResetRate > 0 || f.MalformedRate > 0 || f.SlowRate > 0
}

func (f *Faults) slowDelay() time.Duration {
	if f.SlowDelay > 0 {
		return f.SlowDelay
	}
	return defaultSlowDelay
}

func (f *Faults) tokenTTL() time.Duration {
	if f.TokenTTL > 0 {
		return f.TokenTTL
	}
	return DefaultTokenTTL
}

// retryAfterHeader is RetryAfter in whole seconds, rounded up; "" for none.
func (f *Faults) retryAfterHeader() string {
	if f.RetryAfter <= 0 {
		return ""
	}
	return strconv.FormatInt(int64(math.Ceil(f.RetryAfter.Seconds())), 10)
}

// Validate reports rates outside [0, 1], rates adding up to more than 1,
// and negative durations or MaxRPS.
func (f Faults) Validate() error {
	var errs []error
	sum := 0.0
	for _, r := range [...]struct {
		key  string
		rate float64
	}{
		{"throttle", f.ThrottleRate}, {"body429", f.BodyThrottleRate}, {"5xx", f.ServerErrorRate},
		{"body500", f.Body500Rate}, {"reset", f.ResetRate}, {"malformed", f.MalformedRate}, {"slow", f.SlowRate},
		{"403", f.ForbiddenRate},
	} {
		if math.IsNaN(r.rate) || r.rate < 0 || r.rate > 1 {
			errs = append(errs, fmt.Errorf("fault %q: rate %v is not between 0 and 1", r.key, r.rate))
			continue
		}
		if r.key != "403" { // drawn on its own
			sum += r.rate
		}
	}
	if sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("fault rates add up to %.4g, more than 1", sum))
	}
	for _, d := range [...]struct {
		key string
		d   time.Duration
	}{
		{"latency", f.Latency}, {"slowdelay", f.SlowDelay}, {"retryafter", f.RetryAfter}, {"ttl", f.TokenTTL},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("fault %q: negative duration %v", d.key, d.d))
		}
	}
	if math.IsNaN(f.MaxRPS) || f.MaxRPS < 0 {
		errs = append(errs, fmt.Errorf("fault %q: %v is negative", "maxrps", f.MaxRPS))
	}
	return errors.Join(errs...)
}

// faultKeys documents the ParseFaults keys, in String's order.
const faultKeys = "latency, throttle, retryafter, body429, 5xx, body500, reset, malformed, slow, slowdelay, " +
	"bool, mixed, ttl, http401, maxrps, tokenfaults, forbidden, 403, html404"

// ParseFaults parses the compact form used by flags and the environment:
// comma-separated key=value pairs, e.g.
//
//	latency=20ms,throttle=0.05,body429=0.02,5xx=0.02,reset=0.01,slow=0.01:15s,
//	malformed=0.01,body500=0.01,bool=true,mixed=true,ttl=3s,http401=false,
//	maxrps=100,retryafter=1,403=0.02
//
// and the refusal switches forbidden (every MFA call a permission error,
// apiCode 1636), 403=RATE (that share of MFA calls) and html404 (every MFA
// call an HTML 404 page).
//
// Rates are numbers in [0, 1]; durations use Go syntax ("20ms"), except
// retryafter, which also takes plain seconds; slow takes "rate" or
// "rate:delay"; booleans take strconv.ParseBool forms, and a bare key means
// true. An empty spec is no faults. Errors name the offending key.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, hasVal := strings.Cut(part, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if seen[key] {
			return Faults{}, fmt.Errorf("genauthtest: fault %q given twice", key)
		}
		seen[key] = true
		if err := f.set(key, val, hasVal); err != nil {
			return Faults{}, fmt.Errorf("genauthtest: fault %q: %w", key, err)
		}
	}
	if err := f.Validate(); err != nil {
		return Faults{}, fmt.Errorf("genauthtest: %w", err)
	}
	return f, nil
}

func (f *Faults) set(key, val string, hasVal bool) error {
	if !hasVal {
		switch key {
		case "bool", "mixed", "http401", "tokenfaults", "forbidden", "html404":
			val = "true"
		default:
			if !knownFaultKey(key) {
				return fmt.Errorf("unknown key (known: %s)", faultKeys)
			}
			return errors.New("missing value (key=value)")
		}
	}
	var err error
	switch key {
	case "latency":
		f.Latency, err = parseDuration(val)
	case "throttle":
		f.ThrottleRate, err = parseRate(val)
	case "retryafter":
		f.RetryAfter, err = parseSeconds(val)
	case "body429":
		f.BodyThrottleRate, err = parseRate(val)
	case "5xx":
		f.ServerErrorRate, err = parseRate(val)
	case "body500":
		f.Body500Rate, err = parseRate(val)
	case "reset":
		f.ResetRate, err = parseRate(val)
	case "malformed":
		f.MalformedRate, err = parseRate(val)
	case "slow":
		rate, delay, hasDelay := strings.Cut(val, ":")
		if f.SlowRate, err = parseRate(rate); err == nil && hasDelay {
			f.SlowDelay, err = parseDuration(delay)
		}
	case "slowdelay":
		f.SlowDelay, err = parseDuration(val)
	case "bool":
		f.BoolStatuses, err = parseBool(val)
	case "mixed":
		f.MixedStatuses, err = parseBool(val)
	case "ttl":
		f.TokenTTL, err = parseDuration(val)
	case "http401":
		f.HTTP401, err = parseBool(val)
	case "maxrps":
		f.MaxRPS, err = strconv.ParseFloat(val, 64)
		if err == nil && (f.MaxRPS < 0 || math.IsNaN(f.MaxRPS) || math.IsInf(f.MaxRPS, 0)) {
			err = fmt.Errorf("%q is not a rate of requests per second >= 0", val)
		} else if err != nil {
			err = fmt.Errorf("%q is not a number", val)
		}
	case "tokenfaults":
		f.TokenFaults, err = parseBool(val)
	case "forbidden":
		f.Forbidden, err = parseBool(val)
	case "403":
		f.ForbiddenRate, err = parseRate(val)
	case "html404":
		f.HTML404, err = parseBool(val)
	default:
		return fmt.Errorf("unknown key (known: %s)", faultKeys)
	}
	return err
}

func knownFaultKey(k string) bool {
	for known := range strings.SplitSeq(faultKeys, ", ") {
		if k == known {
			return true
		}
	}
	return false
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("%q is not a rate between 0 and 1", s)
	}
	return r, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 20ms or 3s", s)
	}
	return d, nil
}

// parseSeconds takes "2" (seconds) or a duration "2s".
func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("%q is not a number of seconds >= 0", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds or a duration like 2s", s)
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true/false)", s)
	}
	return b, nil
}

// String renders f in the form ParseFaults reads, listing only the switches
// that are set; "" for no faults.
func (f Faults) String() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	rate := func(k string, r float64) {
		if r != 0 {
			add(k, strconv.FormatFloat(r, 'g', -1, 64))
		}
	}
	if f.Latency != 0 {
		add("latency", f.Latency.String())
	}
	rate("throttle", f.ThrottleRate)
	if f.RetryAfter != 0 {
		add("retryafter", f.RetryAfter.String())
	}
	rate("body429", f.BodyThrottleRate)
	rate("5xx", f.ServerErrorRate)
	rate("body500", f.Body500Rate)
	rate("reset", f.ResetRate)
	rate("malformed", f.MalformedRate)
	rate("slow", f.SlowRate)
	if f.SlowDelay != 0 {
		add("slowdelay", f.SlowDelay.String())
	}
	if f.BoolStatuses {
		add("bool", "true")
	}
	if f.MixedStatuses {
		add("mixed", "true")
	}
	if f.TokenTTL != 0 {
		add("ttl", f.TokenTTL.String())
	}
	if f.HTTP401 {
		add("http401", "true")
	}
	if f.MaxRPS != 0 {
		add("maxrps", strconv.FormatFloat(f.MaxRPS, 'g', -1, 64))
	}
	if f.TokenFaults {
		add("tokenfaults", "true")
	}
	if f.Forbidden {
		add("forbidden", "true")
	}
	rate("403", f.ForbiddenRate)
	if f.HTML404 {
		add("html404", "true")
	}
	return strings.Join(parts, ",")
}

// Salts separate the independent draws of one attempt.
const (
	saltFault   = 1
	saltVariant = 2
	saltMixed   = 3
	// saltForbidden draws Faults.ForbiddenRate.
	saltForbidden = 4
)

// draw is a uniform number in [0, 1) that depends only on the seed, the
// subject hash, the attempt number (counted since the server started) and
// the salt: a fresh server draws the same faults for the same run whatever
// the scheduling, and a later run draws anew.
func (s *Server) draw(subject uint64, attempt uint32, salt uint64) float64 {
	x := uint64(s.opts.Seed) ^ mix(subject+uint64(attempt)*0x9e3779b97f4a7c15) ^ salt*0xd1b54a32d192ed03
	return unit(mix(x))
}

// bucket is the MaxRPS token bucket: capacity max(1, rate) (one second's
// worth), refilled at rate per second on the server's clock. It is only
// touched when MaxRPS is set.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func (b *bucket) allow(rate float64, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	burst := math.Max(1, rate)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate != rate || b.last.IsZero() {
		b.rate, b.tokens, b.last = rate, burst, now
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = math.Min(burst, b.tokens+dt.Seconds()*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

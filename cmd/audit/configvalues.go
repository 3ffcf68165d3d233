package main

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// valueParsers read the values of Config's variables and flags alike, with
// messages that say the fix. They are env's FuncMap, so they replace its
// built-in parsers for these types.
var valueParsers = map[reflect.Type]env.ParserFunc{
	reflect.TypeFor[bool]():          func(s string) (any, error) { return parseBool(s) },
	reflect.TypeFor[int]():           func(s string) (any, error) { n, err := parseInt(s, strconv.IntSize); return int(n), err },
	reflect.TypeFor[int64]():         func(s string) (any, error) { return parseInt(s, 64) },
	reflect.TypeFor[float64]():       func(s string) (any, error) { return parseFloat(s) },
	reflect.TypeFor[time.Duration](): func(s string) (any, error) { return parseDuration(s) },
}

// parseBool takes true/false, 1/0, yes/no and on/off, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on", "t", "y":
		return true, nil
	case "false", "0", "no", "off", "f", "n":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use true/false, 1/0, yes/no or on/off", s)
}

func parseInt(s string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return 0, fmt.Errorf("%q is not a whole number", s)
}

// parseFloat refuses NaN and the infinities: no setting means them.
func parseFloat(s string) (float64, error) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return x, nil
}

// parseDuration wants a unit; a bare number is answered with the same
// number in seconds as the likely fix.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err == nil {
		return d, nil
	}
	if _, ferr := strconv.ParseFloat(t, 64); ferr == nil {
		return 0, fmt.Errorf("%s has no unit: did you mean %ss?", t, t)
	}
	return 0, fmt.Errorf("%q is not a duration: use a number and a unit, e.g. 10s, 500ms or 2m", s)
}

// registerFlags adds one flag per variable that the command cmd reads.
// Their defaults, as -h shows them, are the built-in ones (envDefault),
// never what the environment says: -h must not show a password from a URL
// in the environment, nor mislead about what is built in.
func registerFlags(fs *flag.FlagSet, c *Config, cmd string) {
	v := reflect.ValueOf(c).Elem()
	for _, f := range configFields() {
		if !f.readBy(cmd) {
			continue
		}
		name := flagName(f.env)
		fs.Var(&fieldValue{v: v.FieldByName(f.field), name: f.env, secret: f.secret}, name, f.help)
		def := f.def
		if f.secret {
			def = ""
		}
		fs.Lookup(name).DefValue = def
	}
}

// flagName maps AUDIT_RATE to rate and GENAUTH_ACCESS_KEY_ID to access-key-id.
func flagName(envName string) string {
	n := strings.TrimPrefix(strings.TrimPrefix(envName, "AUDIT_"), "GENAUTH_")
	return strings.ToLower(strings.ReplaceAll(n, "_", "-"))
}

// fieldValue is a flag.Value over one Config field.
type fieldValue struct {
	v      reflect.Value
	name   string // the variable
	secret bool
}

func (f *fieldValue) String() string {
	if f == nil || !f.v.IsValid() || f.secret {
		return ""
	}
	return fmt.Sprint(f.v.Interface())
}

func (f *fieldValue) IsBoolFlag() bool { return f.v.IsValid() && f.v.Kind() == reflect.Bool }

// Set parses s as the variable would be parsed.
func (f *fieldValue) Set(s string) error {
	if p, ok := valueParsers[f.v.Type()]; ok {
		x, err := p(s)
		if err != nil {
			return err
		}
		f.v.Set(reflect.ValueOf(x))
		return nil
	}
	if tu, ok := f.v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s))
	}
	switch f.v.Kind() {
	case reflect.String:
		f.v.SetString(s)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 0, f.v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number of 0 or more", s)
		}
		f.v.SetUint(n)
	default:
		return fmt.Errorf("no flag parser for %s", f.v.Type())
	}
	return nil
}

// kind names the value a flag takes, for -h.
func (f *fieldValue) kind() string {
	switch f.v.Interface().(type) {
	case bool:
		return ""
	case int, int64:
		return "N"
	case float64:
		return "NUMBER"
	case time.Duration:
		return "DURATION"
	}
	return "STRING"
}

package main

import (
	"reflect"

	"github.com/mfa-audit/mfa-audit/internal/redact"
)

// redactor is the redaction of everything this configuration may show
// (SPEC 10): the secret, and the passwords of every configured value (URLs
// and connection strings, whatever their variable). Logs, errors and help
// go through it.
func (c *Config) redactor() *redact.Redactor {
	r := &redact.Redactor{}
	if c == nil {
		return r
	}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("env") == "" || f.Type.Kind() != reflect.String {
			continue
		}
		s := v.Field(i).String()
		if f.Tag.Get("secret") != "" {
			r.AddSecret(s)
			continue
		}
		r.AddURL(s)
	}
	return r
}

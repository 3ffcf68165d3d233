package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// A problem is one configuration mistake: the variable it is about and
// what is wrong with it, said so that it tells the fix.
type problem struct {
	Var, Msg string
	field    string // the Config field, for a value that did not parse
}

func (p *problem) Error() string {
	if p.Var == "" {
		return p.Msg
	}
	return p.Var + ": " + p.Msg
}

// varOf names the variable an error is about: a problem's, or the known
// variable its text starts with ("AUDIT_OUTPUT x.pdf: ..."); "" if none.
func varOf(err error) string {
	var p *problem
	if errors.As(err, &p) {
		return p.Var
	}
	msg := err.Error()
	end := strings.IndexFunc(msg, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') })
	if end < 0 {
		end = len(msg)
	}
	if name := msg[:end]; knownVariables()[name] {
		return name
	}
	return ""
}

// forCommand drops the problems of variables that the command cmd does not
// read: a cron file shared by `audit run` and `audit report` need not be
// right about what the other one uses.
func forCommand(cmd string, problems []error) []error {
	readers := map[string]configField{}
	for _, f := range configFields() {
		readers[f.env] = f
	}
	var out []error
	for _, p := range problems {
		if f, ok := readers[varOf(p)]; ok && !f.readBy(cmd) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// logProblems writes every configuration problem as one log line of its
// own (in the log format chosen, on the log's stream), then one line saying
// how many there are and where the flags are listed. It returns exitUsage.
func logProblems(log *slog.Logger, cmd string, problems []error) int {
	for _, p := range problems {
		args := []any{"problem", p.Error()}
		if v := varOf(p); v != "" {
			args = append(args, "variable", v)
		}
		log.Error("configuration error", args...)
	}
	n := len(problems)
	word := "problems"
	if n == 1 {
		word = "problem"
	}
	log.Error(fmt.Sprintf("audit %s: %d configuration %s, nothing was asked or written; fix and run again (audit %s -h lists the variables)", cmd, n, word, cmd),
		"exit_code", exitUsage)
	return exitUsage
}

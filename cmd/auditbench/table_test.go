package main

import (
	"strings"
	"testing"
)

func sampleTable() *table {
	t := &table{Title: "bench", Header: []string{"date: today"}}
	t.add(row{Scenario: "overhead: ratio", Params: "e2e ÷ bare", Measured: "0.81", Target: "≥ 0.70", Result: resPass})
	t.add(row{Scenario: "rate", Params: "R=20|C=32", Measured: "19.9 users/s", Target: "0.95–1.00 × R", Result: resFail})
	t.Notes = []string{"a note"}
	return t
}

func TestWriteTextAligns(t *testing.T) {
	var b strings.Builder
	sampleTable().writeText(&b)
	got := b.String()
	want := `bench
date: today

Scenario         Parameters  Measured      Target         Result
---------------  ----------  ------------  -------------  ------
overhead: ratio  e2e ÷ bare  0.81          ≥ 0.70         PASS
rate             R=20|C=32   19.9 users/s  0.95–1.00 × R  FAIL

- a note
`
	if got != want {
		t.Errorf("writeText:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteMarkdownEscapes(t *testing.T) {
	var b strings.Builder
	sampleTable().writeMarkdown(&b)
	got := b.String()
	want := `# bench

- date: today

| Scenario | Parameters | Measured | Target | Result |
| --- | --- | --- | --- | --- |
| overhead: ratio | e2e ÷ bare | 0.81 | ≥ 0.70 | PASS |
| rate | R=20\|C=32 | 19.9 users/s | 0.95–1.00 × R | FAIL |

- a note
`
	if got != want {
		t.Errorf("writeMarkdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailed(t *testing.T) {
	if !sampleTable().failed() {
		t.Error("a FAIL row: want failed")
	}
	ok := &table{}
	ok.add(row{Result: resPass})
	ok.add(row{Result: resSkip})
	if ok.failed() {
		t.Error("PASS and SKIP only: want not failed")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -20000: "-20,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

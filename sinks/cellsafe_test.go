package sinks

import "testing"

func TestSafeCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=1+2", "'=1+2"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2", "'-2"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\tx", "'\tx"},
		{"\r=1", "'\r=1"},
		{"＝1+2", "'＝1+2"},
		{"＋1", "'＋1"},
		{"a=1+2", "a=1+2"},
		{"'already", "'already"},
		{"2024-01-15T10:30:00.000Z", "2024-01-15T10:30:00.000Z"},
		{"用户", "用户"},
	}
	for _, tt := range tests {
		if got := SafeCell(tt.in); got != tt.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

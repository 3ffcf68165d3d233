package sinks

import "testing"

func TestMaskPII(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no personal data here", "no personal data here"},
		// E-mail addresses keep the first character and the top-level domain.
		{"alice.smith@example.com", "a***@***.com"},
		{"mail a@b.co now", "mail a***@***.co now"},
		{"user bob+mfa@corp.example.cn not found", "user b***@***.cn not found"},
		{"two: x@a.io, y@b.org", "two: x***@***.io, y***@***.org"},
		// Phone numbers keep their last four digits, separators stay.
		{"13800138000", "*******8000"},
		{"+8613800138000", "+*********8000"},
		{"+86 138 0013 8000", "+** *** **** 8000"},
		{"+86-138-0013-8000", "+**-***-****-8000"},
		{"(010) 8888-1234", "(***) ****-1234"},
		{"+86 (10) 8888 1234", "+** (**) **** 1234"},
		{"+1 (415) 555-2671", "+* (***) ***-2671"},
		{"tel:13800138000, ok", "tel:*******8000, ok"},
		{"user 13800138000 not found (apiCode 2004)", "user *******8000 not found (apiCode 2004)"},
		{"call 13800138000.", "call *******8000."},
		{"version 13800138000.5", "version 13800138000.5"},
		// Not phone numbers: ids, dates, short and long numbers.
		{"5f8d0c3e2a1b4c6d7e8f9a0b", "5f8d0c3e2a1b4c6d7e8f9a0b"},
		{"60b8d4a1e2f3000012345678", "60b8d4a1e2f3000012345678"},
		{"550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"},
		{"req_1234567890abcdef", "req_1234567890abcdef"},
		{"2024-01-15", "2024-01-15"},
		{"checked 2024-01-15 10:30:00", "checked 2024-01-15 10:30:00"},
		{"2024-01-15T10:30:00.123Z", "2024-01-15T10:30:00.123Z"},
		{"HTTP 404, apiCode 2004", "HTTP 404, apiCode 2004"},
		{"x 123456 y", "x 123456 y"},
		{"1234567890123456789", "1234567890123456789"},
		{"v1.2.3", "v1.2.3"},
	}
	for _, tt := range tests {
		if got := MaskPII(tt.in); got != tt.want {
			t.Errorf("MaskPII(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

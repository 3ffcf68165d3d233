package delivery

import (
	"os"
	"testing"
)

// testServer returns the values of the AUDIT_TEST_* variables that
// .ci/delivery-servers prints for a real server; the test skips without
// them, and fails when AUDIT_TEST_REQUIRE_ALL says every test must run.
func testServer(t *testing.T, what string, names ...string) []string {
	t.Helper()
	var vals []string
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			msg := what + " is not configured (" + n + " is unset): start the test servers with eval \"$(bash .ci/delivery-servers)\""
			if os.Getenv("AUDIT_TEST_REQUIRE_ALL") != "" {
				t.Fatal(msg + ", but AUDIT_TEST_REQUIRE_ALL says this test must run")
			}
			t.Skip(msg)
		}
		vals = append(vals, v)
	}
	return vals
}

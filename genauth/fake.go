package genauth

import "net/http"

// FakeHeader and FakeValue mark every answer of the built-in fake GenAuth
// server (genauthtest). A client that receives them records that the run
// was answered by the fake (Client.FakeAPI), so the reports say FAKE API
// (SPEC 10). The header name belongs to this project and the value must
// match exactly: no real GenAuth host or proxy sends it by accident.
const (
	FakeHeader = "X-Mfa-Audit-Fake-Api"
	FakeValue  = "mfa-audit genauthtest; not a real user pool"
)

// noteFake records an answer from the built-in fake.
func (c *Client) noteFake(h http.Header) {
	if h.Get(FakeHeader) == FakeValue && !c.fake.Load() {
		c.fake.Store(true)
	}
}

// FakeAPI reports whether any answer so far came from the built-in fake
// GenAuth server (the demo, audit fake-genauth, tests): the run's reports
// must then say FAKE API.
func (c *Client) FakeAPI() bool { return c.fake.Load() }

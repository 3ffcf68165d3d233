package genauthtest_test

import (
	"fmt"
	"time"

	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

func Example() {
	faults, err := genauthtest.ParseFaults("throttle=0.05,body500=0.02,reset=0.01,ttl=2s")
	if err != nil {
		panic(err)
	}
	s := genauthtest.NewServer(genauthtest.Options{
		Faults:     faults,
		Synthesize: true, // any well-formed id gets a realistic answer
		Seed:       1,
	})
	defer s.Close()
	s.AddUser(genauthtest.User{UserID: "u-1", Email: "ann@example.com", TOTP: true})

	// Point the client under test at s.URL with s.PoolID and s.Secret,
	// run it, then check what the server saw:
	_ = s.URL
	c := s.Counters()
	fmt.Println(c.Requests, c.AnsweredTwice, faults.TokenTTL == 2*time.Second)
	// Output: 0 0 true
}

package main

import (
	"fmt"
	"net"
	"strings"
)

// checkFakeAddr refuses a listen address for the fake GenAuth API that is
// reachable from other machines (all interfaces, or any address that is not
// loopback) unless allowRemote is set: the fake answers any credentials
// and invents users, so it must not be mistaken for a real API (SPEC 10).
func checkFakeAddr(addr string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT such as 127.0.0.1:8080", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := host
	if host == "" || host == "0.0.0.0" || host == "::" {
		what = "every interface"
	}
	return fmt.Errorf("--addr %s listens on %s, beyond this machine: the fake accepts made-up credentials and invents users; use 127.0.0.1:PORT, or add --allow-remote if other machines must reach it", addr, what)
}

package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/mfa-audit/mfa-audit/demo"
	"github.com/mfa-audit/mfa-audit/genauth/genauthtest"
)

// fakeGenAuth is `audit fake-genauth [--addr ADDR] [--faults SPEC]`: the
// fake GenAuth API for dry runs of a CronJob setup, serving the demo pool
// and, for any other well-formed id, a synthesized user.
func (e *cmdEnv) fakeGenAuth(args []string) int {
	fs := flag.NewFlagSet("audit fake-genauth", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback unless --allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow an --addr that other machines can reach")
	faults := fs.String("faults", "", `fault switches, e.g. "latency=20ms,throttle=0.05,body429=0.02,5xx=0.02,reset=0.01,slow=0.01:15s,malformed=0.01,body500=0.01,mixed=true,ttl=60s,maxrps=100"; a doomed run: "forbidden" (every MFA call a permission error), "html404" (an HTML 404 page), "403=0.02" (a share of 403s)`)
	poolID := fs.String("pool-id", genauthtest.DefaultPoolID, "accepted GENAUTH_ACCESS_KEY_ID")
	secret := fs.String("secret", genauthtest.DefaultSecret, "accepted GENAUTH_ACCESS_KEY_SECRET")
	later := fs.Bool("later", false, "serve the demo pool a month later: some users with other factors, some deleted, some joined (for a second run against a baseline)")
	if code, done := e.helpOrUsageError("fake-genauth", fs, parseFlags(fs, args), nil); done {
		return code
	}
	if err := checkFakeAddr(*addr, *allowRemote); err != nil {
		fmt.Fprintln(e.stderr, "audit fake-genauth:", err)
		return exitUsage
	}
	f, err := genauthtest.ParseFaults(*faults)
	if err != nil {
		fmt.Fprintln(e.stderr, "audit fake-genauth: --faults:", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(e.stdout, nil))
	srv, err := genauthtest.NewServerAt(*addr, genauthtest.Options{
		PoolID: *poolID, Secret: *secret, Users: demo.Users(), Synthesize: true, Faults: f, Logger: log,
	})
	if err != nil {
		fmt.Fprintln(e.stderr, "audit fake-genauth:", err)
		return exitUsage
	}
	defer srv.Close()
	if *later {
		srv.ServeLater(demo.Later)
	}
	log.Info("FAKE GenAuth API serving: not a real user pool; runs against it say FAKE API", "url", srv.URL, "pool_id", srv.PoolID, "faults", f.String(),
		"try", "GENAUTH_HOST="+srv.URL+" GENAUTH_ACCESS_KEY_ID="+srv.PoolID+" GENAUTH_ACCESS_KEY_SECRET=... audit run")
	ctx, stop := signalContext()
	defer stop()
	<-ctx.Done()
	c := srv.Counters()
	log.Info("fake GenAuth API stopped", "requests", c.Requests, "max_in_flight", c.MaxInFlight, "answered_twice", c.AnsweredTwice)
	return exitOK
}

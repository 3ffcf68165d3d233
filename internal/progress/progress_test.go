package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestBar(t *testing.T) {
	got := Bar(Snapshot{Read: 250, Done: 240, Unknown: 2, Throttled: 7}, 1000, 48, 50, 10)
	for _, want := range []string{"[==        ]", " 25% of ~1000 rows", "ETA 15s", "240 done", "48/s", "unknown 2", "throttled 7"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar %q lacks %q", got, want)
		}
	}
	if got := Bar(Snapshot{Read: 42, Done: 42}, -1, 0, 0, 10); !strings.HasPrefix(got, "42 done") {
		t.Errorf("bar without a total: %q", got)
	}
}

func TestLogLinesEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var done atomic.Int64
		stop := Start(Options{
			Mode:     "auto", // buf is no terminal: log lines
			Out:      &buf,
			Logger:   slog.New(slog.NewTextHandler(&buf, nil)),
			Total:    func() int64 { return 1000 },
			Read:     func() Snapshot { return Snapshot{Read: done.Load(), Done: done.Load(), Throttled: 3} },
			Interval: 5 * time.Second,
		})
		for range 3 {
			done.Add(100)
			time.Sleep(5 * time.Second)
			synctest.Wait()
		}
		stop()
		out := buf.String()
		if n := strings.Count(out, "msg=progress"); n != 3 {
			t.Fatalf("%d progress lines in 15 s at 5 s, want 3:\n%s", n, out)
		}
		for _, want := range []string{"done=300", "rows_read=300", "rows_total=1000", "per_sec=20", "throttled=3", "unknown=0"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestNeverShowsNothing(t *testing.T) {
	var buf bytes.Buffer
	Start(Options{Mode: "never", Out: &buf, Read: func() Snapshot { return Snapshot{} }})()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}

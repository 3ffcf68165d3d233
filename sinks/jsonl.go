package sinks

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mfa-audit/mfa-audit/pipeline"
)

// JSONL writes one JSON object per result and line, with the keys of
// ResultFields in that order and then "run_id" (SPEC section 5). It is the
// machine record: nothing is masked or neutralised.
//
// The file is written under a temporary name and moved into place by Close;
// an incomplete run also leaves PATH.incomplete saying why. Lines reach the
// temporary file at least every JSONLFlushInterval, so a process killed
// outright leaves all but its last seconds of answers there, for a resumed
// run to read (sources.OpenJSONLPrior, TempLeftovers).
type JSONL struct {
	path   string
	opt    Options // FileMode and Dirs
	suffix []byte  // `,"run_id":"..."}` + "\n"
	f      *atomicFile
	buf    []byte

	mu   sync.Mutex // w and werr: Write and the flusher
	w    *bufio.Writer
	werr error // a failed background flush, reported by the next Write or Close

	stop chan struct{} // closed by Close: the flusher ends
	done chan struct{} // closed by the flusher when it has ended
}

// JSONLFlushInterval is the longest a written line stays in memory before
// it reaches the file.
const JSONLFlushInterval = 2 * time.Second

var _ pipeline.Sink = (*JSONL)(nil)

// NewJSONL returns a JSON Lines sink writing to path, after checking that
// its directory can be written (a configuration error otherwise). Of opt
// only FileMode and Dirs apply: nothing is masked.
func NewJSONL(path string, opt Options) (*JSONL, error) {
	if err := CheckWritable(path, opt); err != nil {
		return nil, err
	}
	return &JSONL{path: path, opt: opt}, nil
}

// Open creates the temporary file and starts the flusher. It is called
// once, before any Write.
func (j *JSONL) Open(_ context.Context, run pipeline.RunInfo) error {
	f, err := createAtomic(j.path, j.opt)
	if err != nil {
		return fmt.Errorf("jsonl output %s: %w", j.path, err)
	}
	j.f = f
	j.w = bufio.NewWriterSize(f, 256<<10)
	j.suffix = appendJSONString([]byte(`,"run_id":`), run.RunID)
	j.suffix = append(j.suffix, '}', '\n')
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go j.flusher()
	return nil
}

// flusher writes the buffered lines out every JSONLFlushInterval until
// Close.
func (j *JSONL) flusher() {
	defer close(j.done)
	t := time.NewTicker(JSONLFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.mu.Lock()
			if j.werr == nil && j.w.Buffered() > 0 {
				j.werr = j.w.Flush()
			}
			j.mu.Unlock()
		}
	}
}

// Write appends the line of r (buffered).
func (j *JSONL) Write(_ context.Context, r pipeline.Result) error {
	j.buf = AppendResultJSON(j.buf[:0], r)
	j.buf = append(j.buf[:len(j.buf)-1], j.suffix...) // run_id goes last
	j.mu.Lock()
	err := j.werr
	if err == nil {
		_, err = j.w.Write(j.buf)
	}
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("jsonl output %s: %w", j.path, err)
	}
	return nil
}

// Close flushes the lines written and moves the file into place, writing
// PATH.incomplete when s is not complete (removing a stale one when it is).
// It is called once, also after a failed Write or an interrupted run; if
// Open was not called or failed it does nothing. If the lines cannot be
// flushed the temporary file is removed and the error returned.
func (j *JSONL) Close(_ context.Context, s pipeline.Summary) error {
	if j.f == nil {
		return nil
	}
	f := j.f
	j.f = nil
	close(j.stop)
	<-j.done
	err := j.werr
	if err == nil {
		err = j.w.Flush()
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("jsonl output %s: %w", j.path, err)
	}
	if err := f.Commit(incompleteReason(&s)); err != nil {
		return fmt.Errorf("jsonl output %s: %w", j.path, err)
	}
	return nil
}

// AppendResultJSON appends r as one JSON object (no newline) to dst: the
// keys of ResultFields in order; null for a nil bool or int, for a zero
// checked_at and for no exception; attrs an object with keys in source
// order; checked_at in TimeLayout; exception an object with the keys of
// ExceptionFields. Strings are escaped as encoding/json does, U+2028 and U+2029
// included, invalid UTF-8 becoming U+FFFD; '<', '>' and '&' are kept as
// they are.
func AppendResultJSON(dst []byte, r pipeline.Result) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = appendJSONString(dst, r.UserID)
	dst = append(dst, `,"id_type":`...)
	dst = appendJSONString(dst, r.IDType)
	dst = append(dst, `,"outcome":`...)
	dst = appendJSONString(dst, string(r.Outcome))
	dst = append(dst, `,"totp":`...)
	dst = appendJSONBool(dst, r.TOTP)
	dst = append(dst, `,"face":`...)
	dst = appendJSONBool(dst, r.Face)
	dst = append(dst, `,"sms":`...)
	dst = appendJSONBool(dst, r.SMS)
	dst = append(dst, `,"email":`...)
	dst = appendJSONBool(dst, r.Email)
	dst = append(dst, `,"factors":`...)
	if r.Factors == nil {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, int64(*r.Factors), 10)
	}
	dst = append(dst, `,"mfa":`...)
	dst = appendJSONString(dst, r.MFA)
	dst = append(dst, `,"compliant":`...)
	dst = appendJSONBool(dst, r.Compliant)
	dst = append(dst, `,"attrs":{`...)
	for i, a := range r.Attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, a.Key)
		dst = append(dst, ':')
		dst = appendJSONString(dst, a.Value)
	}
	dst = append(dst, `},"error":`...)
	dst = appendJSONString(dst, r.Error)
	dst = append(dst, `,"api_code":`...)
	dst = appendJSONString(dst, r.APICode)
	dst = append(dst, `,"request_id":`...)
	dst = appendJSONString(dst, r.RequestID)
	dst = append(dst, `,"attempts":`...)
	dst = strconv.AppendInt(dst, int64(r.Attempts), 10)
	dst = append(dst, `,"checked_at":`...)
	if r.CheckedAt.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = r.CheckedAt.UTC().AppendFormat(dst, TimeLayout)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"change":`...)
	if r.Change == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, string(r.Change))
	}
	dst = append(dst, `,"non_compliant_since":`...)
	if r.NonCompliantSince.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = r.NonCompliantSince.UTC().AppendFormat(dst, DateLayout)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"exception":`...)
	if x := r.Exception; x == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"state":`...)
		dst = appendJSONString(dst, x.State)
		dst = append(dst, `,"reason":`...)
		dst = appendJSONString(dst, x.Reason)
		dst = append(dst, `,"approved_by":`...)
		dst = appendJSONString(dst, x.ApprovedBy)
		dst = append(dst, `,"expires":`...)
		dst = appendJSONString(dst, x.Expires)
		dst = append(dst, `,"ticket":`...)
		dst = appendJSONString(dst, x.Ticket)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendJSONBool(dst []byte, b *bool) []byte {
	switch {
	case b == nil:
		return append(dst, "null"...)
	case *b:
		return append(dst, "true"...)
	default:
		return append(dst, "false"...)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

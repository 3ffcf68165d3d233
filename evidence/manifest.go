// Package evidence writes and checks the evidence manifest of a run
// (SPEC 15): which build produced which files from which input with which
// settings, each file named with its SHA-256, optionally signed with an
// Ed25519 key so that an auditor can check it later with openssl alone.
package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mfa-audit/mfa-audit/internal/buildinfo"
)

// Schema names the manifest format.
const Schema = "mfa-audit.manifest/v1"

// Manifest is the evidence of one `audit run` or `audit report`.
type Manifest struct {
	Schema     string            `json:"schema"`
	RunID      string            `json:"run_id"`
	Command    string            `json:"command"` // run, report, demo
	Tool       buildinfo.Info    `json:"tool"`
	APIHost    string            `json:"api_host,omitempty"`
	StartedAt  time.Time         `json:"started_at"`
	FinishedAt time.Time         `json:"finished_at"`
	Complete   bool              `json:"complete"`
	Incomplete string            `json:"incomplete,omitempty"` // why not, in words
	ExitCode   int               `json:"exit_code"`
	Config     map[string]string `json:"config"` // without secrets, URLs redacted
	Source     Source            `json:"source"`
	Exceptions *Ref              `json:"exceptions,omitempty"`
	Baseline   *Ref              `json:"baseline,omitempty"`
	Summary    map[string]any    `json:"summary"`
	Outputs    []Output          `json:"outputs"`
}

// Source describes what was audited. For a file or stdin SHA256, Bytes and
// Rows describe the bytes as read; for Postgres the query and its SHA-256;
// for the whole pool the listing's totalCount at its start and end.
type Source struct {
	Kind            string `json:"kind"` // file, stdin, postgres, genauth:users, jsonl, postgres-run
	Description     string `json:"description"`
	Path            string `json:"path,omitempty"`
	SHA256          string `json:"sha256,omitempty"`
	Bytes           *int64 `json:"bytes,omitempty"`
	Rows            *int64 `json:"rows,omitempty"`
	Query           string `json:"query,omitempty"`
	QuerySHA256     string `json:"query_sha256,omitempty"`
	TotalCountStart *int64 `json:"total_count_start,omitempty"`
	TotalCountEnd   *int64 `json:"total_count_end,omitempty"`
}

// Ref names an input beside the source: a file (path, SHA-256, size) or a
// stored run (run id).
type Ref struct {
	Path   string `json:"path,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Bytes  *int64 `json:"bytes,omitempty"`
}

// Output is one output of the run. A file is named by its path, relative
// to the manifest's folder when it lies under it (so that a copy of the
// folder still verifies); an object by its URL; a Postgres output by its
// URL without password, schema, run id and the rows stored.
type Output struct {
	Kind   string `json:"kind"` // xlsx, html, csv, jsonl, postgres
	Path   string `json:"path"`
	Bytes  *int64 `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Schema string `json:"schema,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	Rows   *int64 `json:"rows,omitempty"`
	// Incomplete is true when the output was left marked incomplete.
	Incomplete bool `json:"incomplete,omitempty"`
}

// IsFile reports whether the output is a local file whose bytes the
// manifest hashes.
func (o Output) IsFile() bool { return o.Kind != "postgres" && !isURL(o.Path) }

func isURL(p string) bool {
	for _, s := range []string{"s3://", "postgres://", "postgresql://", "http://", "https://"} {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	return false
}

// Int64 returns a pointer to n, for the optional counts.
func Int64(n int64) *int64 { return &n }

// Marshal renders m as the manifest file's bytes: indented JSON and a
// final newline. These are the bytes the signature covers.
func Marshal(m *Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Parse reads a manifest's bytes, refusing anything that is not one.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("not a manifest: schema %q, want %q", m.Schema, Schema)
	}
	return &m, nil
}

// RelPath returns path relative to dir when it lies under dir, else path
// made absolute.
func RelPath(dir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(absDir, abs)
	if err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
		return abs
	}
	return filepath.ToSlash(rel)
}

// HashFile returns the SHA-256 (hex) and size of the file at path.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// HashString returns the SHA-256 (hex) of s.
func HashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HashingReader passes reads through and hashes the bytes read, for an
// input that can be read only once (stdin).
type HashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashingReader wraps r.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: sha256.New()}
}

func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// Sum returns the SHA-256 (hex) and count of the bytes read so far.
func (h *HashingReader) Sum() (string, int64) {
	return hex.EncodeToString(h.h.Sum(nil)), h.n
}

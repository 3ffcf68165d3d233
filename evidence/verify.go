package evidence

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File states of a verification.
const (
	StateOK      = "ok"      // present, same SHA-256 and size
	StateChanged = "changed" // present, different bytes
	StateMissing = "missing" // not found
	StateAbsent  = "absent"  // an input not copied with the manifest: not required
	StateSkipped = "skipped" // not a file (a database, an object store)
)

// Check is the verdict on one file the manifest lists.
type Check struct {
	Role  string // output, source, exceptions, baseline
	Kind  string
	Path  string // as listed
	Found string // where it was looked for (resolved)
	State string
}

// Failed reports whether the check makes the verification fail: a changed
// file, or a missing output. An input that is not at hand is not required.
func (c Check) Failed() bool {
	return c.State == StateChanged || c.State == StateMissing
}

// Verification is the result of Verify.
type Verification struct {
	Manifest *Manifest
	Checks   []Check
	// Signature: "valid", "invalid", "missing" (a key was given but there is
	// no .sig file), or "not checked" (no key given).
	Signature string
}

// OK reports whether everything matched and, when a key was given, the
// signature is valid.
func (v *Verification) OK() bool {
	if v.Signature == "invalid" || v.Signature == "missing" {
		return false
	}
	for _, c := range v.Checks {
		if c.Failed() {
			return false
		}
	}
	return true
}

// ErrUsage marks errors that mean the verification could not be attempted
// (no such manifest, not a manifest, a bad key): exit 2.
var ErrUsage = errors.New("usage")

// Verify checks the manifest at path: the signature (path.sig) against pub
// when pub is not nil, and every file it lists hashed again. A relative
// path resolves against the manifest's folder; an absolute path that is not
// there is looked for beside the manifest, so a manifest copied elsewhere
// together with its files still verifies.
func Verify(path string, pub ed25519.PublicKey) (*Verification, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read the manifest: %v", ErrUsage, err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUsage, path, err)
	}
	v := &Verification{Manifest: m, Signature: "not checked"}
	if pub != nil {
		sig, err := os.ReadFile(path + SigExt)
		switch {
		case errors.Is(err, os.ErrNotExist):
			v.Signature = "missing"
		case err != nil:
			return nil, fmt.Errorf("%w: cannot read the signature: %v", ErrUsage, err)
		case len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, data, sig):
			v.Signature = "valid"
		default:
			v.Signature = "invalid"
		}
	}
	dir := filepath.Dir(path)
	for _, o := range m.Outputs {
		c := Check{Role: "output", Kind: o.Kind, Path: o.Path}
		if !o.IsFile() {
			c.State = StateSkipped
		} else {
			c.Found, c.State = checkFile(dir, o.Path, o.SHA256, o.Bytes)
		}
		v.Checks = append(v.Checks, c)
	}
	inputs := []struct {
		role string
		ref  *Ref
	}{{"exceptions", m.Exceptions}, {"baseline", m.Baseline}}
	if m.Source.SHA256 != "" && m.Source.Path != "" {
		inputs = append([]struct {
			role string
			ref  *Ref
		}{{"source", &Ref{Path: m.Source.Path, SHA256: m.Source.SHA256, Bytes: m.Source.Bytes}}}, inputs...)
	}
	for _, in := range inputs {
		if in.ref == nil || in.ref.Path == "" || in.ref.SHA256 == "" {
			continue
		}
		c := Check{Role: in.role, Path: in.ref.Path}
		c.Found, c.State = checkFile(dir, in.ref.Path, in.ref.SHA256, in.ref.Bytes)
		if c.State == StateMissing {
			c.State = StateAbsent
		}
		v.Checks = append(v.Checks, c)
	}
	return v, nil
}

// checkFile finds the file listed as p and compares its hash and size.
func checkFile(dir, p, sum string, size *int64) (string, string) {
	candidates := []string{p}
	if !filepath.IsAbs(p) {
		candidates = []string{filepath.Join(dir, filepath.FromSlash(p))}
	} else {
		candidates = append(candidates, filepath.Join(dir, filepath.Base(p)))
	}
	for _, c := range candidates {
		got, n, err := HashFile(c)
		if err != nil {
			continue
		}
		if got != sum || (size != nil && n != *size) {
			return c, StateChanged
		}
		return c, StateOK
	}
	return candidates[0], StateMissing
}

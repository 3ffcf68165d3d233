package evidence

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mfa-audit/mfa-audit/internal/fsmode"
)

// Write renders m and writes it to path, and with a key also path.sig,
// each under a temporary name renamed into place, so a reader never sees
// half a manifest. mode is the files' permission bits (the umask applies).
// It returns the manifest's bytes. A stale signature of an earlier manifest
// at the same path is removed when no key is given.
func Write(path string, m *Manifest, key ed25519.PrivateKey, mode os.FileMode) ([]byte, error) {
	data, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(path, data, mode); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if key == nil {
		if err := os.Remove(path + SigExt); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("manifest %s: removing a stale signature: %w", path, err)
		}
		return data, nil
	}
	if err := writeAtomic(path+SigExt, Sign(key, data), mode); err != nil {
		return nil, fmt.Errorf("manifest signature %s: %w", path+SigExt, err)
	}
	return data, nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	// CreateTemp makes 0600; apply the configured bits under the umask.
	if err := f.Chmod(fsmode.Masked(mode)); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

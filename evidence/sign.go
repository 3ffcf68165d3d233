package evidence

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// SigExt is appended to the manifest's path for its signature file: the raw
// 64-byte Ed25519 signature of the manifest's exact bytes, as
// `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in M -sigfile M.sig`
// checks it.
const SigExt = ".sig"

// LoadSigningKey reads an Ed25519 private key in PKCS#8 PEM (what
// `openssl genpkey -algorithm ed25519` writes). A key file that others may
// read is refused: whoever can read it can sign evidence.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the signing key: %w", errors.Unwrap(err))
	}
	if st.Mode().Perm()&0o004 != 0 {
		return nil, fmt.Errorf("%s is readable by every user (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the signing key: %w", errors.Unwrap(err))
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s is not a PKCS#8 PEM private key (want -----BEGIN PRIVATE KEY-----, as `openssl genpkey -algorithm ed25519` writes)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T key, not Ed25519 (make one with `openssl genpkey -algorithm ed25519`)", path, k)
	}
	return ek, nil
}

// LoadPublicKey reads an Ed25519 public key in PEM (SubjectPublicKeyInfo,
// what `openssl pkey -pubout` writes).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the public key: %w", errors.Unwrap(err))
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s is not a PEM public key (want -----BEGIN PUBLIC KEY-----, as `openssl pkey -pubout` writes)", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T key, not Ed25519", path, k)
	}
	return ek, nil
}

// Sign returns the signature of data.
func Sign(key ed25519.PrivateKey, data []byte) []byte { return ed25519.Sign(key, data) }

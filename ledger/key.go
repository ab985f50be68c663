package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/posture/posture"
)

// checkpointTag separates checkpoint signatures from every other use of
// the key.
const checkpointTag = "posture-ledger-checkpoint-v1"

// Signer makes checkpoints with an ed25519 key.
type Signer struct {
	key   ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

// NewSigner returns a Signer for key, a whole ed25519 private key (as
// ParseKey and LoadOrCreateKey return).
func NewSigner(key ed25519.PrivateKey) *Signer {
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{key: key, pub: pub, keyID: KeyID(pub)}
}

// KeyID returns the id of the signer's public key.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the public key that verifies the signer's checkpoints.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.pub }

// Sign returns a checkpoint over hash, the Hash of the entry seq, made at
// at (kept to the microsecond, in UTC, as it is signed).
func (s *Signer) Sign(seq int64, hash []byte, at time.Time) posture.LedgerCheckpoint {
	cp := posture.LedgerCheckpoint{
		Seq:   seq,
		Hash:  append([]byte(nil), hash...),
		At:    time.UnixMicro(at.UnixMicro()).UTC(),
		KeyID: s.keyID,
	}
	cp.Signature = ed25519.Sign(s.key, checkpointMessage(cp))
	return cp
}

// VerifyCheckpoint reports whether cp carries pub's id and a valid
// signature by pub.
func VerifyCheckpoint(pub ed25519.PublicKey, cp posture.LedgerCheckpoint) bool {
	// ed25519.Verify panics on a key of the wrong length.
	return len(pub) == ed25519.PublicKeySize && cp.KeyID == KeyID(pub) &&
		ed25519.Verify(pub, checkpointMessage(cp), cp.Signature)
}

func checkpointMessage(cp posture.LedgerCheckpoint) []byte {
	b := appendBytes(nil, checkpointTag)
	b = appendInt(b, cp.Seq)
	b = appendInt(b, cp.At.UnixMicro())
	return appendBytes(b, cp.Hash)
}

// KeyID returns the id of a public key: the hex of the first 8 bytes of its
// SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// EncodePublicKey returns pub in base64, the form ParsePublicKey reads.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a base64 ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("ledger public key: not valid base64")
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("ledger public key: want %d bytes, got %d", ed25519.PublicKeySize, len(b))
	}
	return ed25519.PublicKey(b), nil
}

// EncodeKey returns the base64 seed of key, the form ParseKey reads (and
// the content of a key file).
func EncodeKey(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Seed())
}

// ParseKey reads a private key given as the base64 of its 32-byte ed25519
// seed, as in the environment variable POSTURE_LEDGER_KEY. Its errors never
// quote the input.
func ParseKey(s string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		// base64's error is safe but names a byte offset; say less.
		return nil, errors.New("ledger key: not valid base64")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("ledger key: want the base64 of a %d-byte ed25519 seed, got %d bytes", ed25519.SeedSize, len(seed))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ErrKeyFileMode is the error (under errors.Is) of LoadOrCreateKey for a key
// file that others than its owner may read.
var ErrKeyFileMode = errors.New("ledger key file is readable by group or others")

// LoadOrCreateKey reads the key in the file path (a base64 seed, as
// ParseKey reads), or creates the file with a new key, mode 0600, when it
// does not exist; its directory must exist.
//
// It refuses, with ErrKeyFileMode, a file that group or others may read (on
// systems with Unix permissions), the way ssh refuses such a private key:
// the key is what lets a checkpoint prove that whoever can write the
// database did not rewrite the chain, and a key other local users (the
// database's own, say) can read proves nothing any more. Refusing at
// startup is loud; a warning in a log is not.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = createKey(path)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return readKey(path)
	}
	return key, err
}

func readKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("ledger key %s: not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; make it 0600 (chmod 600 %s)", ErrKeyFileMode, path, fi.Mode().Perm(), path)
	}
	// A seed is 44 characters: a longer file is no key file, and need not
	// be read whole to tell.
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

func createKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	content := []byte(EncodeKey(key) + "\n")
	// Write the key aside, then link it into place: a server starting at
	// the same time sees either no file or the whole key, and if both
	// create one, the link lets exactly one win.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ledger-key-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, content); err != nil {
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return key, err
	}
	// Some file systems (SMB shares) have no hard links: create in place,
	// exclusively, which leaves only a short window for a reader.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := writeSync(f, content); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	return key, nil
}

// writeSync writes b to f, syncs and closes it.
func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

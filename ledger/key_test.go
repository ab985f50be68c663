package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/posture/posture"
)

// testKey returns a fixed key, so that failures reproduce.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func TestSignMessage(t *testing.T) {
	s := NewSigner(testKey(1))
	hash := bytes.Repeat([]byte{0xab}, 32)
	at := time.Date(2024, 5, 1, 12, 0, 0, 1999, time.UTC)
	cp := s.Sign(42, hash, at)

	// The signed message, built by hand as FORMAT.md gives it.
	var msg bytes.Buffer
	binary.Write(&msg, binary.BigEndian, uint64(len("posture-ledger-checkpoint-v1")))
	msg.WriteString("posture-ledger-checkpoint-v1")
	binary.Write(&msg, binary.BigEndian, int64(42))
	binary.Write(&msg, binary.BigEndian, at.UnixMicro())
	binary.Write(&msg, binary.BigEndian, uint64(32))
	msg.Write(hash)
	if !ed25519.Verify(s.PublicKey(), msg.Bytes(), cp.Signature) {
		t.Fatal("the signature is not over the message FORMAT.md describes")
	}

	// FORMAT.md's vector, computed with openssl from the seed 32 × 0x01.
	if got, want := hex.EncodeToString(cp.Signature), "59bb4a75b8b4acf65d8a55cccf8dc941d1f2a4a55d398e35a200500ac22476352094836a7fee3149d044d73b73fa361b817d3966e3a09805695f2dbe79cf9101"; got != want {
		t.Errorf("signature %s, FORMAT.md's vector is %s", got, want)
	}
	if s.KeyID() != "34750f98bd59fcfc" {
		t.Errorf("key id %s, FORMAT.md's vector is 34750f98bd59fcfc", s.KeyID())
	}

	sum := sha256.Sum256(s.PublicKey())
	want := posture.LedgerCheckpoint{
		Seq: 42, Hash: hash, At: time.Date(2024, 5, 1, 12, 0, 0, 1000, time.UTC),
		KeyID: hex.EncodeToString(sum[:8]), Signature: cp.Signature,
	}
	if diff := cmp.Diff(want, cp); diff != "" {
		t.Errorf("checkpoint (-want +got):\n%s", diff)
	}
	if s.KeyID() != want.KeyID || KeyID(s.PublicKey()) != want.KeyID {
		t.Errorf("KeyID = %s, want %s", s.KeyID(), want.KeyID)
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	s := NewSigner(testKey(1))
	good := s.Sign(42, bytes.Repeat([]byte{0xab}, 32), time.Unix(1700000000, 0))
	tests := []struct {
		name string
		pub  ed25519.PublicKey
		edit func(cp *posture.LedgerCheckpoint)
		want bool
	}{
		{"as signed", s.PublicKey(), func(*posture.LedgerCheckpoint) {}, true},
		{"other key", NewSigner(testKey(2)).PublicKey(), func(*posture.LedgerCheckpoint) {}, false},
		{"short key", s.PublicKey()[:31], func(*posture.LedgerCheckpoint) {}, false},
		{"seq", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.Seq++ }, false},
		{"hash", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.Hash[0] ^= 1 }, false},
		{"at", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.At = cp.At.Add(time.Microsecond) }, false},
		{"at below the microsecond", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.At = cp.At.Add(999) }, true},
		{"key id", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.KeyID = "0000000000000000" }, false},
		{"signature", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.Signature[3] ^= 1 }, false},
		{"no signature", s.PublicKey(), func(cp *posture.LedgerCheckpoint) { cp.Signature = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := good
			cp.Hash = bytes.Clone(good.Hash)
			cp.Signature = bytes.Clone(good.Signature)
			tt.edit(&cp)
			if got := VerifyCheckpoint(tt.pub, cp); got != tt.want {
				t.Errorf("VerifyCheckpoint = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	key := testKey(7)
	got, err := ParseKey(" " + EncodeKey(key) + "\n")
	if err != nil || !key.Equal(got) {
		t.Fatalf("ParseKey(EncodeKey(key)) = %v, %v", got, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	gotPub, err := ParsePublicKey(EncodePublicKey(pub))
	if err != nil || !pub.Equal(gotPub) {
		t.Fatalf("ParsePublicKey(EncodePublicKey(pub)) = %v, %v", gotPub, err)
	}
	if _, err := ParsePublicKey(EncodeKey(key)[:40]); err == nil {
		t.Errorf("ParsePublicKey took a truncated key")
	}
}

// TestKeyErrorsHideTheKey: a mistyped key must not end up in a log.
func TestKeyErrorsHideTheKey(t *testing.T) {
	seed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 31))
	for _, in := range []string{
		seed,                        // a byte short
		seed[:20] + "!" + seed[21:], // not base64
		EncodeKey(testKey(3)) + "AAAA",
	} {
		_, err := ParseKey(in)
		if err == nil {
			t.Errorf("ParseKey took a malformed key")
			continue
		}
		if msg := err.Error(); strings.Contains(msg, in[:8]) || strings.Contains(msg, in[len(in)-8:]) {
			t.Errorf("the error quotes the key: %s", msg)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.key")
	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || !key.Equal(again) {
		t.Fatalf("the second load = %v, want the key created first", err)
	}
	b, _ := os.ReadFile(path)
	if env, err := ParseKey(string(b)); err != nil || !key.Equal(env) {
		t.Errorf("the file is not what ParseKey reads: %v", err)
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	secret := EncodeKey(testKey(9))
	if runtime.GOOS != "windows" {
		p := write("open.key", secret, 0o640)
		if _, err := LoadOrCreateKey(p); !errors.Is(err, ErrKeyFileMode) {
			t.Errorf("a group-readable key: err = %v, want ErrKeyFileMode", err)
		}
	}
	p := write("bad.key", secret[:30]+"\n", 0o600)
	_, err := LoadOrCreateKey(p)
	if err == nil || strings.Contains(err.Error(), secret[:10]) {
		t.Errorf("a malformed key file: err = %v, want an error that does not quote it", err)
	}
	if _, err := LoadOrCreateKey(filepath.Join(dir, "missing", "ledger.key")); err == nil {
		t.Errorf("created a key in a directory that does not exist")
	}
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Errorf("took a directory for a key file")
	}
}

// TestLoadOrCreateKeyRace: servers starting together end up with one key.
func TestLoadOrCreateKeyRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.key")
	keys := make([]ed25519.PrivateKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !k.Equal(keys[0]) {
			t.Fatal("two different keys")
		}
	}
}

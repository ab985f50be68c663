package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/posture/posture"
)

// vectorEntry is the entry of FORMAT.md's test vector.
func vectorEntry() (prev []byte, e *posture.Event) {
	prev = make([]byte, 32)
	for i := range prev {
		prev[i] = byte(i)
	}
	return prev, &posture.Event{
		Seq:       7,
		Stream:    "/subscriptions/s1/providers/microsoft.authorization/policyexemptions/e1",
		Kind:      posture.EventCreated,
		Actor:     "alice@example.com",
		ActorType: "User",
		// The nanoseconds below the microsecond are not hashed.
		At:     time.Date(2024, 5, 1, 14, 34, 56, 789012345, time.FixedZone("CEST", 2*3600)),
		Action: "Microsoft.Authorization/policyExemptions/write",
		Scope:  "/subscriptions/s1",
		After:  json.RawMessage(`{"properties":{"exemptionCategory":"Waiver"}}`),
	}
}

// TestHashEncoding builds the hashed bytes by hand, the way FORMAT.md
// describes them, and compares; the hex values were computed by a separate
// Python script from FORMAT.md, so a change of the encoding fails here even
// if the hand-built bytes were changed along with it.
func TestHashEncoding(t *testing.T) {
	var buf bytes.Buffer
	put := func(v any) {
		if err := binary.Write(&buf, binary.BigEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	field := func(b []byte) {
		put(uint64(len(b)))
		buf.Write(b)
	}

	prev, e := vectorEntry()
	field([]byte("posture-ledger-v1"))
	field(prev)
	put(int64(7))
	put(int64(1714566896789012))
	for _, s := range []string{e.Stream, "Created", "alice@example.com", "User", e.Action, "/subscriptions/s1"} {
		field([]byte(s))
	}
	buf.Write(make([]byte, 32)) // Before absent
	after := sha256.Sum256([]byte(`{"properties":{"exemptionCategory":"Waiver"}}`))
	buf.Write(after[:])
	byHand := sha256.Sum256(buf.Bytes())

	got := Hash(prev, e)
	if !bytes.Equal(got, byHand[:]) {
		t.Fatalf("Hash = %x, hand-built encoding hashes to %x", got, byHand)
	}
	if want := "70aef203f0b60c4568a2f635dc0bc94e35d3859d558f7a416346ac27bc39778d"; hex.EncodeToString(got) != want {
		t.Fatalf("Hash = %x, FORMAT.md's vector is %s", got, want)
	}

	first := &posture.Event{Seq: 1, At: time.Unix(0, 0), Before: json.RawMessage{}}
	if got, want := hex.EncodeToString(Hash(nil, first)), "1b8935136550fe30435b1501fda01f13243d21d3baf510f9c940cdf05d179411"; got != want {
		t.Fatalf("Hash(first) = %s, FORMAT.md's vector is %s", got, want)
	}
}

func TestDigest(t *testing.T) {
	empty := sha256.Sum256(nil)
	if got := Digest(nil); !bytes.Equal(got, make([]byte, 32)) {
		t.Errorf("Digest(nil) = %x, want 32 zero bytes", got)
	}
	if got := Digest([]byte{}); !bytes.Equal(got, empty[:]) {
		t.Errorf("Digest(empty) = %x, want SHA-256 of nothing %x", got, empty)
	}
}

// TestHashCoversEveryField changes one field at a time: each change must
// change the hash, and moving bytes from one field to the next must too.
func TestHashCoversEveryField(t *testing.T) {
	base := func() *posture.Event {
		_, e := vectorEntry()
		e.Before = json.RawMessage(`{}`)
		return e
	}
	prev, _ := vectorEntry()
	want := Hash(prev, base())
	tests := []struct {
		name string
		edit func(e *posture.Event) []byte // returns the prev to hash with
	}{
		{"prev", func(e *posture.Event) []byte { return prev[1:] }},
		{"seq", func(e *posture.Event) []byte { e.Seq++; return prev }},
		{"at", func(e *posture.Event) []byte { e.At = e.At.Add(time.Microsecond); return prev }},
		{"stream", func(e *posture.Event) []byte { e.Stream += "x"; return prev }},
		{"kind", func(e *posture.Event) []byte { e.Kind = posture.EventDeleted; return prev }},
		{"actor", func(e *posture.Event) []byte { e.Actor = "mallory"; return prev }},
		{"actor type", func(e *posture.Event) []byte { e.ActorType = "Application"; return prev }},
		{"action", func(e *posture.Event) []byte { e.Action = "x"; return prev }},
		{"scope", func(e *posture.Event) []byte { e.Scope = "/"; return prev }},
		{"before", func(e *posture.Event) []byte { e.Before = json.RawMessage(`{ }`); return prev }},
		{"before empty", func(e *posture.Event) []byte { e.Before = json.RawMessage{}; return prev }},
		{"before absent", func(e *posture.Event) []byte { e.Before = nil; return prev }},
		{"after absent", func(e *posture.Event) []byte { e.After = nil; return prev }},
		{"bytes moved between fields", func(e *posture.Event) []byte {
			e.Actor, e.ActorType = "alice@example.comU", "ser"
			return prev
		}},
		{"before and after swapped", func(e *posture.Event) []byte {
			e.Before, e.After = e.After, e.Before
			return prev
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			p := tt.edit(e)
			if bytes.Equal(Hash(p, e), want) {
				t.Errorf("the hash did not change")
			}
		})
	}
}

// TestHashIgnores: what the store does not keep (the nanoseconds, the time
// zone) and the chain fields themselves must not change the hash.
func TestHashIgnores(t *testing.T) {
	prev, e := vectorEntry()
	want := Hash(prev, e)
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Prev, e.Hash = []byte("ignored"), []byte("ignored")
	if got := Hash(prev, e); !bytes.Equal(got, want) {
		t.Errorf("Hash = %x, want %x", got, want)
	}
	if !bytes.Equal(Hash(nil, e), Hash([]byte{}, e)) {
		t.Errorf("nil and empty prev hash differently")
	}
}

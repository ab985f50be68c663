package ledger

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/posture/posture"
)

// FuzzReadExport: whatever the input, reading and verifying return rather
// than panic, and what reads reads the same once written again.
func FuzzReadExport(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new code.
	c := oddChain()
	f.Add(c.export(f, 12, 17))
	f.Add(newChain(4, 2).export(f, 2, 4))
	h := `{"type":"header","format":"posture-ledger-export-v1","from":1,"to":2,"keys":[]}` + "\n"
	f.Add([]byte(h + `{"type":"entry","seq":1,"at_us":0,"stream":"","kind":"","actor":"","actor_type":"","action":"","scope":"","hash":null,"b64":{"before":""}}` + "\n"))
	f.Add([]byte(h + `{"type":"checkpoint","seq":0,"at_us":-1,"hash":"","key_id":"x","signature":null}` + "\n"))
	f.Add([]byte(h + "{}\n\n"))
	pub := c.signer.PublicKey()

	f.Fuzz(func(t *testing.T, data []byte) {
		VerifyExport(bytes.NewReader(data))
		VerifyExport(bytes.NewReader(data), pub)
		h, es, cps, err := readAll(data)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Export(&buf, *h, all(es), cps); err != nil {
			t.Fatalf("Export of what was read: %v", err)
		}
		h2, es2, cps2, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("reading what was written: %v\n%s", err, buf.Bytes())
		}
		if diff := gocmp.Diff(h, h2); diff != "" {
			t.Errorf("header (-read +again):\n%s", diff)
		}
		if diff := gocmp.Diff(es, es2); diff != "" {
			t.Errorf("entries (-read +again):\n%s", diff)
		}
		// Export places each checkpoint after its entry; order aside, the
		// same.
		byseq := func(a, b *posture.LedgerCheckpoint) int { return cmp.Compare(a.Seq, b.Seq) }
		slices.SortStableFunc(cps, byseq)
		if diff := gocmp.Diff(cps, cps2); diff != "" {
			t.Errorf("checkpoints (-read +again):\n%s", diff)
		}
	})
}

func readAll(data []byte) (*ExportHeader, []*posture.Event, []*posture.LedgerCheckpoint, error) {
	var h *ExportHeader
	var es []*posture.Event
	var cps []*posture.LedgerCheckpoint
	err := ReadExport(bytes.NewReader(data), func(r Record) error {
		switch {
		case r.Header != nil:
			h = r.Header
		case r.Entry != nil:
			es = append(es, r.Entry)
		case r.Checkpoint != nil:
			cps = append(cps, r.Checkpoint)
		}
		return nil
	})
	return h, es, cps, err
}

// FuzzExportEntry: any entry the store could hold survives the export byte
// for byte, and still verifies.
func FuzzExportEntry(f *testing.F) {
	f.Add(int64(1), int64(1714566896789012), "/subscriptions/s1", "Created", "alice", "User", "write", "/", []byte(`{"a":1}`), []byte(nil), false, true, []byte(nil))
	f.Add(int64(9), int64(-1), "\xff", "", "a\nb", "\"", "<&>", "\u2028", []byte("{\n}"), []byte(" 1"), true, false, bytes.Repeat([]byte{1}, 32))
	f.Fuzz(func(t *testing.T, seq, at int64, stream, kind, actor, actorType, action, scope string, before, after []byte, beforeNil, afterNil bool, prev []byte) {
		seq = 1 + int64(uint64(seq)%1e12) // a valid seq
		if seq == 1 || len(prev) == 0 {
			prev = nil // Prev of the first entry; absent from the export when empty
		}
		if beforeNil {
			before = nil
		} else if before == nil {
			before = []byte{}
		}
		if afterNil {
			after = nil
		} else if after == nil {
			after = []byte{}
		}
		e := &posture.Event{
			Seq: seq, At: fromMicros(at), Stream: stream, Kind: kind, Actor: actor, ActorType: actorType,
			Action: action, Scope: scope, Before: json.RawMessage(before), After: json.RawMessage(after), Prev: prev,
		}
		e.Hash = Hash(prev, e)
		s := NewSigner(testKey(1))
		cp := s.Sign(seq, e.Hash, e.At)

		var buf bytes.Buffer
		h := ExportHeader{From: seq, To: seq, Keys: []ed25519.PublicKey{s.PublicKey()}}
		if err := Export(&buf, h, all([]*posture.Event{e}), []*posture.LedgerCheckpoint{&cp}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "\n"); n != 3 {
			t.Fatalf("%d lines, want 3:\n%s", n, buf.Bytes())
		}
		_, es, _, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("%v\n%s", err, buf.Bytes())
		}
		if diff := gocmp.Diff([]*posture.Event{e}, es); diff != "" {
			t.Fatalf("entry (-written +read):\n%s\n%s", diff, buf.Bytes())
		}
		r, err := VerifyExport(bytes.NewReader(buf.Bytes()), s.PublicKey())
		if err != nil || r.Broken != nil || r.Checkpoints != 1 {
			t.Fatalf("VerifyExport = %+v, %v", r, err)
		}
	})
}

package ledger

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func TestVerifyIntact(t *testing.T) {
	c := newChain(30, 10)
	got := c.verify(c.signer.PublicKey())
	want := Report{Entries: 30, Checkpoints: 3, First: 1, Last: 30, Head: c.entries[29].Hash}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestVerifyTampered tampers with a ledger of 30 entries, checkpointed at
// 10, 20 and 30, one way per case, and checks the first break found.
func TestVerifyTampered(t *testing.T) {
	other := NewSigner(testKey(2))
	tests := []struct {
		name   string
		tamper func(c *chain)
		want   *Break // Detail ignored
	}{
		{"intact", func(c *chain) {}, nil},
		{"edit before", func(c *chain) {
			c.entry(5).Before = json.RawMessage(`{"properties":{"exemptionCategory":"Mitigated"}}`)
		}, &Break{Seq: 5, Reason: ReasonEdited}},
		{"reformat before", func(c *chain) {
			e := c.entry(6)
			var buf bytes.Buffer
			json.Indent(&buf, e.Before, "", " ")
			e.Before = buf.Bytes()
		}, &Break{Seq: 6, Reason: ReasonEdited}},
		{"edit actor", func(c *chain) { c.entry(5).Actor = "mallory" }, &Break{Seq: 5, Reason: ReasonEdited}},
		{"edit time", func(c *chain) {
			e := c.entry(5)
			e.At = e.At.Add(-1e3)
		}, &Break{Seq: 5, Reason: ReasonEdited}},
		{"edit prev", func(c *chain) { c.entry(5).Prev[0] ^= 1 }, &Break{Seq: 5, Reason: ReasonEdited}},
		{"edit hash", func(c *chain) { c.entry(5).Hash[0] ^= 1 }, &Break{Seq: 5, Reason: ReasonEdited}},
		{"edit and rehash one row", func(c *chain) {
			e := c.entry(5)
			e.Actor = "mallory"
			e.Hash = Hash(e.Prev, e)
		}, &Break{Seq: 6, Reason: ReasonUnlinked}},
		{"delete a middle row", func(c *chain) { c.remove(5, 5) }, &Break{Seq: 6, Reason: ReasonRemoved}},
		{"swap two rows", func(c *chain) {
			c.entries[4], c.entries[5] = c.entries[5], c.entries[4]
		}, &Break{Seq: 5, Reason: ReasonOrder}},
		{"swap two rows' contents, seqs kept", func(c *chain) {
			a, b := c.entry(5), c.entry(6)
			a.Seq, b.Seq = 6, 5
			*a, *b = *b, *a
		}, &Break{Seq: 5, Reason: ReasonEdited}},
		{"duplicate a row", func(c *chain) {
			c.entries = slices.Insert(c.entries, 5, c.entries[4])
		}, &Break{Seq: 5, Reason: ReasonOrder}},
		{"first entry given a prev", func(c *chain) {
			c.entry(1).Prev = bytes.Repeat([]byte{1}, 32)
			c.rehash(1)
		}, &Break{Seq: 1, Reason: ReasonUnlinked}},
		{"truncate the tail past a checkpoint", func(c *chain) { c.remove(26, 30) }, &Break{Seq: 26, Reason: ReasonTruncated}},
		{"delete a checkpointed row", func(c *chain) { c.remove(20, 20) }, &Break{Seq: 20, Reason: ReasonNoEntry}},
		{"forged checkpoint", func(c *chain) {
			c.cps[1].Hash = bytes.Repeat([]byte{7}, 32)
		}, &Break{Seq: 20, Reason: ReasonSignature}},
		{"checkpoint by another key", func(c *chain) {
			c.cps[1] = other.Sign(20, c.cps[1].Hash, c.cps[1].At)
		}, &Break{Seq: 20, Reason: ReasonUnknownKey}},
		{"checkpoint relabelled", func(c *chain) {
			c.cps[1].KeyID = other.KeyID()
		}, &Break{Seq: 20, Reason: ReasonUnknownKey}},
		{"rewrite every later hash", func(c *chain) {
			c.entry(15).Actor = "mallory"
			c.rehash(15)
		}, &Break{Seq: 20, Reason: ReasonCheckpoint}},
		{"rewrite every later hash and checkpoint", func(c *chain) {
			c.entry(15).Actor = "mallory"
			c.rehash(15)
			for i := range c.cps {
				c.cps[i].Hash = c.entry(c.cps[i].Seq).Hash
			}
		}, &Break{Seq: 20, Reason: ReasonSignature}},
		{"rewrite every later hash and re-sign", func(c *chain) {
			c.entry(15).Actor = "mallory"
			c.rehash(15)
			for i, cp := range c.cps {
				c.cps[i] = other.Sign(cp.Seq, c.entry(cp.Seq).Hash, cp.At)
			}
		}, &Break{Seq: 10, Reason: ReasonUnknownKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(30, 10).clone()
			tt.tamper(c)
			got := c.verify(c.signer.PublicKey())
			if diff := cmp.Diff(tt.want, got.Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
				t.Errorf("break (-want +got):\n%s", diff)
			}
			if got.Broken != nil && got.Broken.Detail == "" {
				t.Errorf("a break without detail")
			}
			if got.ChainOnly {
				t.Errorf("ChainOnly with a key")
			}
		})
	}
}

// TestVerifyTruncatedTail: cutting the tail back to a checkpoint leaves a
// valid chain; only a head recorded elsewhere finds it.
func TestVerifyTruncatedTail(t *testing.T) {
	c := newChain(30, 10)
	cut := c.clone()
	cut.remove(21, 30)
	cut.cps = cut.cps[:2]
	pub := c.signer.PublicKey()
	ignoreDetail := cmpopts.IgnoreFields(Break{}, "Detail")

	if r := cut.verify(pub); r.Broken != nil || r.Last != 20 {
		t.Fatalf("without a head: %+v, want a valid chain ending at 20 (a cut tail is invisible)", r)
	}
	tests := []struct {
		name string
		c    *chain
		seq  int64
		hash []byte
		want *Break
	}{
		{"cut", cut, 30, c.entry(30).Hash, &Break{Seq: 21, Reason: ReasonTruncated}},
		{"intact", c, 30, c.entry(30).Hash, nil},
		{"grown since", c, 25, c.entry(25).Hash, nil},
		{"other head", c, 30, c.entry(29).Hash, &Break{Seq: 30, Reason: ReasonHead}},
		{"rewritten since", rewritten(c, 15), 25, c.entry(25).Hash, &Break{Seq: 20, Reason: ReasonCheckpoint}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(pub)
			if err := v.ExpectHead(tt.seq, tt.hash); err != nil {
				t.Fatal(err)
			}
			for _, cp := range tt.c.cps {
				v.Checkpoint(cp)
			}
			for _, e := range tt.c.entries {
				v.Entry(e)
			}
			if diff := cmp.Diff(tt.want, v.Result().Broken, ignoreDetail); diff != "" {
				t.Errorf("break (-want +got):\n%s", diff)
			}
		})
	}

	// Without checkpoints, the head alone finds a rewrite.
	re := rewritten(c, 15)
	re.cps = nil
	v := NewVerifier()
	v.ExpectHead(25, c.entry(25).Hash)
	for _, e := range re.entries {
		v.Entry(e)
	}
	if diff := cmp.Diff(&Break{Seq: 25, Reason: ReasonHead}, v.Result().Broken, ignoreDetail); diff != "" {
		t.Errorf("rewrite against a head (-want +got):\n%s", diff)
	}
}

// rewritten returns c with the entry seq edited and every later hash
// recomputed.
func rewritten(c *chain, seq int64) *chain {
	d := c.clone()
	d.entry(seq).Actor = "mallory"
	d.rehash(seq)
	return d
}

func TestVerifyChainOnly(t *testing.T) {
	c := newChain(30, 10)
	forged := c.clone()
	forged.cps[0].Signature[0] ^= 1
	re := rewritten(c, 15)
	for i := range re.cps {
		re.cps[i].Hash = re.entry(re.cps[i].Seq).Hash
	}
	edited := c.clone()
	edited.entry(7).Scope = "/"

	tests := []struct {
		name string
		c    *chain
		want *Break
	}{
		{"intact", c, nil},
		{"forged signature goes unnoticed", forged, nil},
		{"rewrite with its checkpoints goes unnoticed", re, nil},
		{"an edit is still found", edited, &Break{Seq: 7, Reason: ReasonEdited}},
		{"a checkpoint is still compared", rewritten(c, 15), &Break{Seq: 20, Reason: ReasonCheckpoint}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.verify()
			if !r.ChainOnly {
				t.Errorf("ChainOnly = false without keys")
			}
			if diff := cmp.Diff(tt.want, r.Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
				t.Errorf("break (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyKeyRotation: checkpoints by an old and a new key verify when
// both keys are given.
func TestVerifyKeyRotation(t *testing.T) {
	c := newChain(20, 10)
	old := c.signer
	c.signer = NewSigner(testKey(2))
	for i := 20; i < 40; i++ {
		c.append(testEntry(i))
	}
	if r := c.verify(old.PublicKey(), c.signer.PublicKey()); r.Broken != nil || r.Checkpoints != 4 {
		t.Errorf("both keys: %+v, want 4 checkpoints and no break", r)
	}
	want := &Break{Seq: 30, Reason: ReasonUnknownKey}
	if diff := cmp.Diff(want, c.verify(old.PublicKey()).Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
		t.Errorf("the old key only (-want +got):\n%s", diff)
	}
	relabelled := c.clone()
	relabelled.cps[3].KeyID = old.KeyID()
	want = &Break{Seq: 40, Reason: ReasonSignature}
	if diff := cmp.Diff(want, relabelled.verify(old.PublicKey(), c.signer.PublicKey()).Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
		t.Errorf("relabelled to the other key (-want +got):\n%s", diff)
	}
}

// TestVerifyPruned: after retention deleted the oldest rows, the first row
// left has a Prev that only the checkpoint just before it can vouch for.
func TestVerifyPruned(t *testing.T) {
	c := newChain(30, 10)
	pruned := c.clone()
	pruned.remove(1, 10)

	got := pruned.verify(c.signer.PublicKey())
	want := Report{Entries: 20, Checkpoints: 3, First: 11, Last: 30, Head: c.entry(30).Hash}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pruned to 11 (-want +got):\n%s", diff)
	}

	further := c.clone()
	further.remove(1, 12)
	got = further.verify(c.signer.PublicKey())
	want = Report{Entries: 18, Checkpoints: 2, Unmatched: 1, First: 13, Last: 30, Head: c.entry(30).Hash}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pruned to 13 (-want +got):\n%s", diff)
	}

	// Whoever rewrites the first row left, its Prev included, and every
	// hash after, is caught by the checkpoint before it.
	re := pruned.clone()
	re.entry(11).Prev = bytes.Repeat([]byte{9}, 32)
	re.rehash(11)
	re.cps = re.cps[:1]
	if diff := cmp.Diff(&Break{Seq: 10, Reason: ReasonCheckpoint}, re.verify(c.signer.PublicKey()).Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
		t.Errorf("first row's Prev rewritten (-want +got):\n%s", diff)
	}
}

// TestVerifyCheckpointOrder: checkpoints may come first or right after
// their entry; later is a caller's mistake, reported as an error.
func TestVerifyCheckpointOrder(t *testing.T) {
	c := newChain(30, 10)
	v := NewVerifier(c.signer.PublicKey())
	next := 0
	for _, e := range c.entries {
		v.Entry(e)
		if next < len(c.cps) && c.cps[next].Seq == e.Seq {
			if err := v.Checkpoint(c.cps[next]); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	r := v.Result()
	if r.Broken != nil || r.Checkpoints != 3 {
		t.Errorf("checkpoints after their entries: %+v", r)
	}
	if diff := cmp.Diff(r, v.Result()); diff != "" {
		t.Errorf("a second Result differs:\n%s", diff)
	}
	if err := v.Checkpoint(c.cps[0]); err == nil {
		t.Errorf("a checkpoint fed 20 entries late: no error")
	}
}

// TestVerifyAnyEdit: whatever field of whatever entry changes, the
// verifier reports that entry as edited.
func TestVerifyAnyEdit(t *testing.T) {
	c := newChain(25, 10)
	rapid.Check(t, func(t *rapid.T) {
		d := c.clone()
		seq := rapid.Int64Range(1, 25).Draw(t, "seq")
		e := d.entry(seq)
		s := rapid.StringN(0, 8, -1).Draw(t, "s")
		switch rapid.IntRange(0, 9).Draw(t, "field") {
		case 0:
			e.Stream += "x" + s
		case 1:
			e.Kind += "x" + s
		case 2:
			e.Actor += "x" + s
		case 3:
			e.ActorType += "x" + s
		case 4:
			e.Action += "x" + s
		case 5:
			e.Scope += "x" + s
		case 6:
			e.At = e.At.Add(time.Duration(rapid.Int64Range(1, 1e9).Draw(t, "µs")) * time.Microsecond)
		case 7:
			e.Before = append(bytes.Clone(e.Before), ' ')
		case 8:
			if e.After == nil {
				e.After = json.RawMessage{}
			} else {
				e.After = nil
			}
		case 9:
			e.Seq += rapid.Int64Range(-3, 3).Filter(func(d int64) bool { return d != 0 }).Draw(t, "d")
		}
		// A changed Seq may show at the entry's new number.
		got := d.verify(c.signer.PublicKey()).Broken
		if got == nil || got.Seq > max(seq, e.Seq) {
			t.Fatalf("edit of entry %d: break %v", seq, got)
		}
	})
}

func TestVerifyEmpty(t *testing.T) {
	c := newChain(10, 5)
	tests := []struct {
		name string
		feed func(v *Verifier)
		want *Break
	}{
		{"nothing", func(v *Verifier) {}, nil},
		{"the head of an empty ledger", func(v *Verifier) { v.ExpectHead(0, nil) }, nil},
		{"a head", func(v *Verifier) { v.ExpectHead(10, c.entry(10).Hash) }, &Break{Seq: 1, Reason: ReasonTruncated}},
		{"a checkpoint", func(v *Verifier) { v.Checkpoint(c.cps[0]) }, &Break{Seq: 1, Reason: ReasonTruncated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(c.signer.PublicKey())
			tt.feed(v)
			r := v.Result()
			if diff := cmp.Diff(tt.want, r.Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
				t.Errorf("break (-want +got):\n%s", diff)
			}
			if r.Entries != 0 || r.Head != nil {
				t.Errorf("report of no entries: %+v", r)
			}
		})
	}
}

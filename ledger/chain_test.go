package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/posture/posture"
)

// chain is a ledger as the store keeps it: entries chained by Append, a
// checkpoint signed every `every` entries.
type chain struct {
	entries []*posture.Event
	cps     []posture.LedgerCheckpoint
	signer  *Signer
	every   int64
}

func newChain(n, every int) *chain {
	c := &chain{signer: NewSigner(testKey(1)), every: int64(every)}
	for i := range n {
		c.append(testEntry(i))
	}
	return c
}

func testEntry(i int) *posture.Event {
	kinds := []string{posture.EventCreated, posture.EventUpdated, posture.EventDeleted, posture.EventSignIn}
	e := &posture.Event{
		Stream:    fmt.Sprintf("/subscriptions/s1/providers/microsoft.authorization/policyexemptions/e%d", i%7),
		Kind:      kinds[i%len(kinds)],
		Actor:     fmt.Sprintf("user%d@example.com", i%5),
		ActorType: "User",
		At:        time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1001 * time.Microsecond),
		Action:    "Microsoft.Authorization/policyExemptions/write",
		Scope:     "/subscriptions/s1",
	}
	doc := json.RawMessage(fmt.Sprintf(`{"properties":{"exemptionCategory":"Waiver","description":"entry %d","policyAssignmentId":"/providers/microsoft.management/managementgroups/mg/providers/microsoft.authorization/policyassignments/mcsb"}}`, i))
	switch e.Kind {
	case posture.EventCreated:
		e.After = doc
	case posture.EventUpdated:
		e.Before, e.After = doc, doc
	case posture.EventDeleted:
		e.Before = doc
	}
	return e
}

// append does what the store does when it appends.
func (c *chain) append(e *posture.Event) {
	var last *posture.Event
	if len(c.entries) > 0 {
		last = c.entries[len(c.entries)-1]
		e.Seq, e.Prev = last.Seq+1, last.Hash
	} else {
		e.Seq = 1
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Hash = Hash(e.Prev, e)
	c.entries = append(c.entries, e)
	if e.Seq%c.every == 0 {
		c.cps = append(c.cps, c.signer.Sign(e.Seq, e.Hash, e.At))
	}
}

// clone copies the chain deeply enough that tampering leaves c alone.
func (c *chain) clone() *chain {
	d := *c
	d.entries = make([]*posture.Event, len(c.entries))
	for i, e := range c.entries {
		cp := *e
		cp.Prev, cp.Hash = bytes.Clone(e.Prev), bytes.Clone(e.Hash)
		d.entries[i] = &cp
	}
	d.cps = slices.Clone(c.cps)
	for i := range d.cps {
		d.cps[i].Hash = bytes.Clone(d.cps[i].Hash)
		d.cps[i].Signature = bytes.Clone(d.cps[i].Signature)
	}
	return &d
}

// entry returns the entry seq.
func (c *chain) entry(seq int64) *posture.Event {
	for _, e := range c.entries {
		if e.Seq == seq {
			return e
		}
	}
	panic(fmt.Sprintf("no entry %d", seq))
}

// rehash recomputes every hash from the entry seq on, as an attacker who
// edited it would.
func (c *chain) rehash(seq int64) {
	for i, e := range c.entries {
		if e.Seq < seq {
			continue
		}
		if i > 0 {
			e.Prev = c.entries[i-1].Hash
		}
		e.Hash = Hash(e.Prev, e)
	}
}

// remove deletes the entries from through to (inclusive).
func (c *chain) remove(from, to int64) {
	c.entries = slices.DeleteFunc(c.entries, func(e *posture.Event) bool { return e.Seq >= from && e.Seq <= to })
}

// verify feeds the checkpoints, then the entries, to a verifier.
func (c *chain) verify(keys ...ed25519.PublicKey) Report {
	v := NewVerifier(keys...)
	for _, cp := range c.cps {
		if err := v.Checkpoint(cp); err != nil {
			panic(err)
		}
	}
	for _, e := range c.entries {
		v.Entry(e)
	}
	return v.Result()
}

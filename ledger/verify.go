package ledger

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/posture/posture"
)

// Reason says how a ledger is broken.
type Reason string

// The reasons of a Break.
const (
	// An entry's Hash is not the hash of its content: a field was changed.
	ReasonEdited Reason = "edited"
	// Sequence numbers skip: entries were deleted.
	ReasonRemoved Reason = "removed"
	// A sequence number not above the one before: entries were moved or
	// duplicated.
	ReasonOrder Reason = "order"
	// An entry's Prev is not the Hash of the entry before: one of the two
	// was rewritten, with its hash recomputed.
	ReasonUnlinked Reason = "unlinked"
	// A checkpoint's signature does not hold: it was forged or edited.
	ReasonSignature Reason = "bad-signature"
	// A checkpoint names a key that was not given to the verifier.
	ReasonUnknownKey Reason = "unknown-key"
	// A checkpoint's hash is not the entry's: the entries up to it were
	// rewritten, later hashes recomputed.
	ReasonCheckpoint Reason = "checkpoint-mismatch"
	// A checkpoint names a sequence number inside the range read that has
	// no entry.
	ReasonNoEntry Reason = "checkpoint-orphan"
	// The entries end before a checkpoint, the head expected (ExpectHead)
	// or the end of an export's declared range: the tail was cut.
	ReasonTruncated Reason = "truncated"
	// The entry at the expected head has another hash.
	ReasonHead Reason = "head-mismatch"
)

// Break is where a ledger is first broken.
type Break struct {
	Seq    int64 // the entry, or the checkpoint's entry, where it shows
	Reason Reason
	Detail string
}

func (b *Break) Error() string {
	return fmt.Sprintf("ledger broken at seq %d: %s: %s", b.Seq, b.Reason, b.Detail)
}

// Report is what a verification found.
type Report struct {
	Entries     int64 // entries checked
	Checkpoints int64 // checkpoints compared with their entry
	// Unmatched counts the checkpoints before the entries read (and not
	// just before the first), of pruned entries: their signature was
	// checked, not their hash. A checkpoint after the entries read is a
	// break (ReasonTruncated): feed only the checkpoints of the range read.
	Unmatched int64
	// ChainOnly is set when no key was given: checkpoints' signatures were
	// not checked, so whoever edits a row and recomputes every later hash
	// (and checkpoint) goes unnoticed.
	ChainOnly   bool
	First, Last int64 // sequence numbers of the first entry and the highest
	// Head is the Hash of the entry Last. The chain cannot tell that rows
	// were cut off its end: keep (Last, Head) where the database's writers
	// cannot reach, and pass it to Verifier.ExpectHead next time.
	Head []byte
	// Broken is the break with the lowest sequence number; nil when the
	// ledger verified.
	Broken *Break
}

// Verifier checks a ledger as it is read, without holding it: feed it the
// entries in the order read (by Seq ascending), the checkpoints, then ask
// for the Result. The zero value is not usable; use NewVerifier.
type Verifier struct {
	keys      map[string]ed25519.PublicKey
	chainOnly bool
	h         hasher

	n           int64  // entries fed
	first, last int64  // Seq of the first entry fed and the highest
	firstPrev   []byte // Prev of the first entry: a checkpoint just before the range checks it
	head        []byte // Hash of the entry last

	// pending are the checkpoints and expected heads of sequence numbers
	// not yet reached.
	pending   map[int64][]claim
	checked   int64
	unmatched int64
	agreed    int64 // Seq of the last checkpoint that agreed with its entry
	expect    int64 // the highest head expected
	broken    *Break

	from int64 // the start of an export's declared range; 0: none
}

// claim is a hash the entry at a sequence number must have.
type claim struct {
	hash []byte
	head bool // from ExpectHead, not a checkpoint
}

// NewVerifier returns a verifier that accepts checkpoints signed by any of
// keys. Without keys it checks the chain alone (Report.ChainOnly).
func NewVerifier(keys ...ed25519.PublicKey) *Verifier {
	v := &Verifier{
		keys:      make(map[string]ed25519.PublicKey, len(keys)),
		chainOnly: len(keys) == 0,
		pending:   make(map[int64][]claim),
	}
	for _, k := range keys {
		v.keys[KeyID(k)] = k
	}
	return v
}

// ExpectHead makes the ledger end no earlier than seq, with hash the Hash of
// the entry seq: a head recorded by an earlier verification (Report.Last
// and Report.Head) or from a checkpoint kept elsewhere. Call it before the
// entry seq is followed by another.
func (v *Verifier) ExpectHead(seq int64, hash []byte) error {
	if seq <= 0 { // the head of an empty ledger: nothing to expect
		return nil
	}
	return v.claim(seq, claim{hash: bytes.Clone(hash), head: true})
}

// Checkpoint checks cp's signature and, when its entry is read, that the
// entry's Hash is the hash cp signed. Feed a checkpoint before its entry is
// followed by another: all checkpoints first, or each right after its entry
// (as an export has them). The error is for a checkpoint fed too late; a
// broken ledger is reported by Result.
func (v *Verifier) Checkpoint(cp posture.LedgerCheckpoint) error {
	if !v.chainOnly {
		pub, ok := v.keys[cp.KeyID]
		if !ok {
			v.fail(cp.Seq, ReasonUnknownKey, "the checkpoint is signed by key %q, not one given", cp.KeyID)
			return nil
		}
		if !VerifyCheckpoint(pub, cp) {
			v.fail(cp.Seq, ReasonSignature, "the checkpoint's signature by key %s does not hold", cp.KeyID)
			return nil
		}
	}
	return v.claim(cp.Seq, claim{hash: bytes.Clone(cp.Hash)})
}

func (v *Verifier) claim(seq int64, c claim) error {
	v.expect = max(v.expect, seq)
	switch {
	case v.n == 0 || seq > v.last:
		v.pending[seq] = append(v.pending[seq], c)
	case seq == v.last:
		v.match(seq, c, v.head, "the entry's Hash")
	case seq == v.first-1:
		v.match(seq, c, v.firstPrev, fmt.Sprintf("entry %d's Prev", v.first))
	case seq < v.first:
		if !c.head {
			v.unmatched++
		}
	default:
		return fmt.Errorf("ledger: a checkpoint or head at seq %d given after entry %d: give it before the entry after it", seq, v.last)
	}
	return nil
}

// Entry checks e and chains it to the entries before.
func (v *Verifier) Entry(e *posture.Event) {
	v.n++
	sum := v.h.sum(e.Prev, e)
	switch {
	case v.n == 1:
		v.first = e.Seq
		v.firstPrev = bytes.Clone(e.Prev)
		switch {
		case e.Seq < 1:
			v.fail(e.Seq, ReasonOrder, "sequence numbers start at 1")
		case v.from > 0 && e.Seq > v.from:
			v.fail(e.Seq, ReasonRemoved, "entries %d to %d are missing", v.from, e.Seq-1)
		case e.Seq == 1 && len(e.Prev) != 0:
			v.fail(e.Seq, ReasonUnlinked, "the first entry has a Prev")
		}
		// Rows before the first may have been pruned; a checkpoint of the
		// entry before vouches for Prev.
		v.matchPending(e.Seq-1, e.Prev, fmt.Sprintf("entry %d's Prev", e.Seq))
	case e.Seq <= v.last:
		v.fail(e.Seq, ReasonOrder, "entry %d comes after entry %d", e.Seq, v.last)
		if !bytes.Equal(sum[:], e.Hash) {
			v.fail(e.Seq, ReasonEdited, "the entry's content does not hash to its Hash")
		}
		return // the chain goes on from the entry last
	case e.Seq > v.last+1:
		v.fail(e.Seq, ReasonRemoved, "entries %d to %d are missing", v.last+1, e.Seq-1)
	case !bytes.Equal(e.Prev, v.head) && bytes.Equal(sum[:], e.Hash):
		v.fail(e.Seq, ReasonUnlinked, "the entry's Prev %s is not entry %d's Hash %s: one of the two was rewritten", short(e.Prev), v.last, short(v.head))
	}
	if !bytes.Equal(sum[:], e.Hash) {
		v.fail(e.Seq, ReasonEdited, "the entry's content does not hash to its Hash")
	}
	v.last = e.Seq
	v.head = append(v.head[:0], e.Hash...)
	v.matchPending(e.Seq, e.Hash, "the entry's Hash")
}

func (v *Verifier) matchPending(seq int64, hash []byte, what string) {
	if len(v.pending) == 0 {
		return
	}
	claims, ok := v.pending[seq]
	if !ok {
		return
	}
	delete(v.pending, seq)
	for _, c := range claims {
		v.match(seq, c, hash, what)
	}
}

func (v *Verifier) match(seq int64, c claim, hash []byte, what string) {
	agree := bytes.Equal(c.hash, hash)
	switch {
	case c.head && !agree:
		v.fail(seq, ReasonHead, "the expected head is %s, %s is %s", short(c.hash), what, short(hash))
	case c.head:
	case agree:
		v.checked++
		v.agreed = seq
	default:
		v.checked++
		why := ""
		if seq >= v.first {
			why = fmt.Sprintf(": an entry from %d to %d was rewritten and the hashes after it recomputed", max(v.agreed+1, v.first), seq)
		}
		v.fail(seq, ReasonCheckpoint, "the checkpoint signed %s, %s is %s%s", short(c.hash), what, short(hash), why)
	}
}

// Result returns the report of the entries and checkpoints fed so far.
func (v *Verifier) Result() Report {
	r := Report{
		Entries:     v.n,
		Checkpoints: v.checked,
		Unmatched:   v.unmatched,
		ChainOnly:   v.chainOnly,
		First:       v.first,
		Last:        v.last,
		Head:        bytes.Clone(v.head),
		Broken:      v.broken,
	}
	for seq, claims := range v.pending {
		switch {
		case seq > v.last: // v.expect covers it
		case v.n > 0 && seq >= v.first:
			r.Broken = lower(r.Broken, &Break{seq, ReasonNoEntry, fmt.Sprintf("a checkpoint or expected head names entry %d, which is missing", seq)})
		default: // before the entries read: pruned
			for _, c := range claims {
				if !c.head {
					r.Unmatched++
				}
			}
		}
	}
	if v.expect > v.last {
		end := v.last + 1
		if v.n == 0 {
			end = max(v.from, 1)
		}
		r.Broken = lower(r.Broken, &Break{end, ReasonTruncated, fmt.Sprintf("the entries end at %d; a checkpoint, the expected head or the export's range reach %d", v.last, v.expect)})
	}
	if r.Broken != nil {
		b := *r.Broken
		r.Broken = &b
	}
	return r
}

// fail records a break unless one at a lower (or the same) seq is known.
func (v *Verifier) fail(seq int64, reason Reason, format string, args ...any) {
	if v.broken == nil || seq < v.broken.Seq {
		v.broken = &Break{seq, reason, fmt.Sprintf(format, args...)}
	}
}

func lower(a, b *Break) *Break {
	if a == nil || b.Seq < a.Seq {
		return b
	}
	return a
}

// short shows the start of a hash, enough to tell two apart.
func short(h []byte) string {
	if len(h) == 0 {
		return "(none)"
	}
	if len(h) > 6 {
		return fmt.Sprintf("%x…", h[:6])
	}
	return fmt.Sprintf("%x", h)
}

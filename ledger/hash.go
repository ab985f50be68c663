package ledger

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/posture/posture"
)

// entryTag separates entry hashes from every other use of SHA-256.
const entryTag = "posture-ledger-v1"

// Hash returns the hash of e chained to prev, the hash of the entry before
// (empty for the first entry). It reads neither e.Prev nor e.Hash.
func Hash(prev []byte, e *posture.Event) []byte {
	// One allocation for the encoding: the store hashes on every append.
	n := 10*8 + len(entryTag) + len(prev) + len(e.Stream) + len(e.Kind) + len(e.Actor) +
		len(e.ActorType) + len(e.Action) + len(e.Scope) + 2*sha256.Size
	h := hasher{buf: make([]byte, 0, n)}
	sum := h.sum(prev, e)
	return sum[:]
}

// Digest returns the digest of a document as Hash encodes it: SHA-256 of
// the bytes, or 32 zero bytes for nil, so that an absent document and an
// empty one differ.
func Digest(doc []byte) []byte {
	d := digest(doc)
	return d[:]
}

func digest(doc []byte) [sha256.Size]byte {
	if doc == nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(doc)
}

// hasher keeps the buffer an entry is encoded into, so that a verifier
// hashing many entries allocates nothing per entry.
type hasher struct {
	buf []byte
}

func (h *hasher) sum(prev []byte, e *posture.Event) [sha256.Size]byte {
	b := appendBytes(h.buf[:0], entryTag)
	b = appendBytes(b, prev)
	b = appendInt(b, e.Seq)
	b = appendInt(b, e.At.UnixMicro())
	b = appendBytes(b, e.Stream)
	b = appendBytes(b, e.Kind)
	b = appendBytes(b, e.Actor)
	b = appendBytes(b, e.ActorType)
	b = appendBytes(b, e.Action)
	b = appendBytes(b, e.Scope)
	before, after := digest(e.Before), digest(e.After)
	b = append(b, before[:]...)
	b = append(b, after[:]...)
	h.buf = b
	return sha256.Sum256(b)
}

func appendInt(b []byte, x int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(x))
}

func appendBytes[S string | []byte](b []byte, s S) []byte {
	return append(appendInt(b, int64(len(s))), s...)
}

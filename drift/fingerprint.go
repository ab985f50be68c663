package drift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"github.com/posture/posture/jsonw"
	"github.com/posture/posture/policy"
)

// Fingerprint is what drift review compares: the values of the fields a
// rule reads, as one digest and field by field.
type Fingerprint struct {
	// Digest is "sha256:<hex>" over the canonical JSON of the fields in
	// order (see Take); equal digests mean nothing changed.
	Digest string       `json:"digest"`
	Fields []FieldValue `json:"fields"`
}

// FieldValue is one field of a fingerprint.
type FieldValue struct {
	Path string `json:"path"`
	Reading
}

// Reading is what a fingerprint saw at one path.
type Reading struct {
	// Absent is set when the document has no value at the path, which is
	// not the same as a null value.
	Absent bool `json:"absent,omitempty"`
	// Digest is "sha256:<hex>" over the value's canonical JSON; empty when
	// absent.
	Digest string `json:"digest,omitempty"`
	// Value is the canonical JSON of the value, kept only when it is at
	// most MaxValueBytes long, so that people can see what changed.
	Value json.RawMessage `json:"value,omitempty"`
}

// MaxValueBytes bounds the values a fingerprint keeps verbatim; longer
// ones are kept as their digest only.
const MaxValueBytes = 256

// Take fingerprints the fields of r (paths as Fields returns them), in the
// order given. It is deterministic: the digest depends on the decoded
// values only, not on key order, spacing or number spelling (1 and 1.0 are
// the same number, as the evaluator sees them).
//
// What is read at each path is what the rule's field reference reads
// (policy.Path.Read): built-in fields from the Resource, document paths
// case-insensitively. A path without [*] reads one value, or nothing
// (Absent); a path with [*] reads the list of selected values in document
// order, empty when the array is missing, never Absent (a rule cannot tell
// a missing array from an empty one through a [*] alias). A path that does
// not parse reads as Absent. A nil r reads every field as Absent.
//
// The digest is sha256 over the canonical JSON (keys sorted, no spaces,
// numbers as JavaScript prints them) of the array
// [{"path": <path>, "value": <value>}, …], where an absent field is
// {"path": <path>} alone.
func Take(fields []string, r *policy.Resource) Fingerprint {
	fp := Fingerprint{Fields: make([]FieldValue, len(fields))}
	bufp := bufPool.Get().(*[]byte)
	buf := *bufp
	whole := sha256.New()
	whole.Write([]byte{'['})
	for i, path := range fields {
		fv := FieldValue{Path: path}
		v, ok := read(path, r)
		if i > 0 {
			whole.Write([]byte{','})
		}
		buf = jsonw.AppendString(append(buf[:0], `{"path":`...), path)
		if ok {
			buf = append(buf, `,"value":`...)
			start := len(buf)
			buf = appendCanonical(buf, v)
			canon := buf[start:]
			sum := sha256.Sum256(canon)
			fv.Digest = digestString(sum)
			if len(canon) <= MaxValueBytes {
				fv.Value = json.RawMessage(append([]byte(nil), canon...))
			}
		} else {
			fv.Absent = true
		}
		buf = append(buf, '}')
		whole.Write(buf)
		fp.Fields[i] = fv
	}
	whole.Write([]byte{']'})
	var sum [sha256.Size]byte
	fp.Digest = digestString([sha256.Size]byte(whole.Sum(sum[:0])))
	*bufp = buf[:0]
	bufPool.Put(bufp)
	return fp
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func digestString(sum [sha256.Size]byte) string {
	var b [len("sha256:") + 2*sha256.Size]byte
	copy(b[:], "sha256:")
	hex.Encode(b[len("sha256:"):], sum[:])
	return string(b[:])
}

// read returns the value at path: a collection as its list of values
// (never absent), a single value with whether it exists.
func read(path string, r *policy.Resource) (any, bool) {
	p := parsed(path)
	if p == nil {
		return nil, false
	}
	pv := p.Read(r)
	if pv.Collection {
		if pv.Values == nil {
			return []any{}, true
		}
		return pv.Values, true
	}
	return pv.Value, pv.Found
}

// Parsed paths are cached: Take runs for every exempted resource on every
// scan with the same few hundred rule paths. The cache is bounded so that
// paths from stored or hostile fingerprints cannot grow it without end.
var (
	pathsMu sync.RWMutex
	paths   = map[string]*policy.Path{}
)

const maxCachedPaths = 4096

func parsed(s string) *policy.Path {
	pathsMu.RLock()
	p, ok := paths[s]
	pathsMu.RUnlock()
	if ok {
		return p
	}
	p, err := policy.ParsePath(s)
	if err != nil {
		p = nil
	}
	pathsMu.Lock()
	if len(paths) < maxCachedPaths {
		paths[s] = p
	}
	pathsMu.Unlock()
	return p
}

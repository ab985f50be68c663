package ledger

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/posture/posture"
)

// ExportFormat names the export format in its header.
const ExportFormat = "posture-ledger-export-v1"

// ExportHeader is the first line of an export.
type ExportHeader struct {
	Format   string // ExportFormat
	From, To int64  // the entries exported, inclusive
	// Keys are the public keys of the checkpoints, for the record. An
	// auditor verifies with keys obtained elsewhere: whoever rewrote the
	// file could have put their own here.
	Keys []ed25519.PublicKey
}

// The lines of an export, as JSON. Byte strings are base64; times are
// microseconds since 1970 UTC, what the hash covers.
type (
	headerLine struct {
		Type   string    `json:"type"`
		Format string    `json:"format"`
		From   int64     `json:"from"`
		To     int64     `json:"to"`
		Keys   []keyLine `json:"keys"`
	}
	keyLine struct {
		ID        string `json:"id"`
		PublicKey string `json:"public_key"`
	}
	entryLine struct {
		Type      string `json:"type"`
		Seq       int64  `json:"seq"`
		At        int64  `json:"at_us"`
		Stream    string `json:"stream"`
		Kind      string `json:"kind"`
		Actor     string `json:"actor"`
		ActorType string `json:"actor_type"`
		Action    string `json:"action"`
		Scope     string `json:"scope"`
		Prev      []byte `json:"prev,omitempty"`
		Hash      []byte `json:"hash"`
		// B64 holds, in base64, the fields JSON cannot carry byte for byte:
		// strings that are not UTF-8, documents that are not one line of
		// JSON.
		B64    map[string][]byte `json:"b64,omitempty"`
		Before json.RawMessage   `json:"before,omitempty"`
		After  json.RawMessage   `json:"after,omitempty"`
	}
	checkpointLine struct {
		Type      string `json:"type"`
		Seq       int64  `json:"seq"`
		At        int64  `json:"at_us"`
		Hash      []byte `json:"hash"`
		KeyID     string `json:"key_id"`
		Signature []byte `json:"signature"`
	}
)

// Export writes the entries From through To of h, in the order given, as
// JSON lines: the header, then each entry followed by the checkpoints of its
// sequence number. Checkpoints outside the range are left out, except that
// of the entry just before From, which vouches for the first entry's Prev.
// From must be the first entry the store holds in the range (after pruning,
// the first row left): VerifyExport reports entries missing at either end.
// Every byte the hashes cover is written as it is, so that VerifyExport of
// the file finds what a Verifier of the store finds.
func Export(w io.Writer, h ExportHeader, entries iter.Seq2[*posture.Event, error], checkpoints []*posture.LedgerCheckpoint) error {
	if h.From < 1 || h.To < h.From {
		return fmt.Errorf("ledger export: invalid range %d to %d", h.From, h.To)
	}
	var cps []*posture.LedgerCheckpoint
	for _, cp := range checkpoints {
		if cp.Seq >= h.From-1 && cp.Seq <= h.To {
			cps = append(cps, cp)
		}
	}
	slices.SortStableFunc(cps, func(a, b *posture.LedgerCheckpoint) int { return cmp.Compare(a.Seq, b.Seq) })

	bw := bufio.NewWriter(w)
	hl := headerLine{Type: "header", Format: ExportFormat, From: h.From, To: h.To, Keys: []keyLine{}}
	for _, k := range h.Keys {
		hl.Keys = append(hl.Keys, keyLine{ID: KeyID(k), PublicKey: EncodePublicKey(k)})
	}
	if err := writeLine(bw, hl); err != nil {
		return err
	}
	// writeCheckpoints writes the checkpoints up to seq not yet written.
	writeCheckpoints := func(seq int64) error {
		for len(cps) > 0 && cps[0].Seq <= seq {
			cp := cps[0]
			cps = cps[1:]
			l := checkpointLine{"checkpoint", cp.Seq, cp.At.UnixMicro(), cp.Hash, cp.KeyID, cp.Signature}
			if err := writeLine(bw, l); err != nil {
				return err
			}
		}
		return nil
	}
	for e, err := range entries {
		if err != nil {
			return err
		}
		if e.Seq < h.From || e.Seq > h.To {
			return fmt.Errorf("ledger export: entry %d outside the range %d to %d", e.Seq, h.From, h.To)
		}
		if err := writeCheckpoints(e.Seq - 1); err != nil {
			return err
		}
		if _, err := bw.Write(entryJSON(e)); err != nil {
			return err
		}
		if err := writeCheckpoints(e.Seq); err != nil {
			return err
		}
	}
	if err := writeCheckpoints(h.To); err != nil {
		return err
	}
	return bw.Flush()
}

func writeLine(w *bufio.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// entryJSON returns the line of an entry.
func entryJSON(e *posture.Event) []byte {
	l := entryLine{
		Type: "entry", Seq: e.Seq, At: e.At.UnixMicro(), Prev: e.Prev, Hash: e.Hash,
		Stream: e.Stream, Kind: e.Kind, Actor: e.Actor, ActorType: e.ActorType, Action: e.Action, Scope: e.Scope,
	}
	for name, s := range l.strings() {
		if !utf8.ValidString(*s) { // json.Marshal would replace the bytes
			l.setB64(name, []byte(*s))
			*s = ""
		}
	}
	type doc struct {
		name string
		raw  json.RawMessage
	}
	var spliced []doc
	for _, d := range []doc{{"before", e.Before}, {"after", e.After}} {
		switch {
		case d.raw == nil:
		case oneLineJSON(d.raw):
			spliced = append(spliced, d)
		default:
			l.setB64(d.name, d.raw)
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // strings, numbers and byte strings always marshal
	}
	// json.Marshal would compact a document and escape its HTML: splice
	// it in as it is.
	b = b[:len(b)-1]
	for _, d := range spliced {
		b = append(append(append(b, `,"`...), d.name...), `":`...)
		b = append(b, d.raw...)
	}
	return append(b, '}', '\n')
}

// strings returns the string fields of l by their names.
func (l *entryLine) strings() map[string]*string {
	return map[string]*string{
		"stream": &l.Stream, "kind": &l.Kind, "actor": &l.Actor,
		"actor_type": &l.ActorType, "action": &l.Action, "scope": &l.Scope,
	}
}

func (l *entryLine) setB64(name string, b []byte) {
	if l.B64 == nil {
		l.B64 = make(map[string][]byte)
	}
	l.B64[name] = b
}

// oneLineJSON reports whether doc can stand in a JSON line as it is and be
// read back byte for byte: one valid UTF-8 JSON value, on one line, with
// no space around it (a decoder drops that).
func oneLineJSON(doc []byte) bool {
	return len(doc) > 0 && !isSpace(doc[0]) && !isSpace(doc[len(doc)-1]) &&
		!bytes.ContainsAny(doc, "\r\n") && utf8.Valid(doc) && json.Valid(doc)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// fromMicros is the inverse of time.Time.UnixMicro, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

package ledger

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/posture/posture"
)

// maxLine bounds a line of an export: an entry with its two documents.
const maxLine = 64 << 20

// Record is one line of an export: exactly one of Header, Entry and
// Checkpoint is set.
type Record struct {
	Line       int // from 1
	Header     *ExportHeader
	Entry      *posture.Event
	Checkpoint *posture.LedgerCheckpoint
}

// ExportError is a malformed line of an export.
type ExportError struct {
	Line int
	Err  error
}

func (e *ExportError) Error() string { return fmt.Sprintf("ledger export line %d: %v", e.Line, e.Err) }
func (e *ExportError) Unwrap() error { return e.Err }

// ReadExport reads an export written by Export and calls fn with each line
// in turn, stopping at fn's first error, which it returns. A malformed line
// (bad JSON, an unknown field, a header that is not first, an entry outside
// the header's range) is an *ExportError. ReadExport checks the format, not
// the chain: VerifyExport does.
func ReadExport(r io.Reader, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var h *ExportHeader
	n := 0
	for sc.Scan() {
		n++
		rec, err := parseLine(bytes.TrimSuffix(sc.Bytes(), []byte("\r")), h)
		if err != nil {
			return &ExportError{n, err}
		}
		rec.Line = n
		if rec.Header != nil {
			h = rec.Header
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return &ExportError{n + 1, fmt.Errorf("longer than %d bytes", maxLine)}
	case err != nil:
		return err
	case n == 0:
		return &ExportError{1, errors.New("empty export: want a header")}
	}
	return nil
}

// parseLine parses one line; h is the header read, nil before the first.
func parseLine(line []byte, h *ExportHeader) (Record, error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return Record{}, err
	}
	if (probe.Type == "header") != (h == nil) {
		return Record{}, errors.New("the header must be the first line, and only it")
	}
	switch probe.Type {
	case "header":
		var l headerLine
		if err := strictUnmarshal(line, &l); err != nil {
			return Record{}, err
		}
		h, err := l.header()
		return Record{Header: h}, err
	case "entry":
		var l entryLine
		if err := strictUnmarshal(line, &l); err != nil {
			return Record{}, err
		}
		e, err := l.entry()
		if err == nil && (e.Seq < h.From || e.Seq > h.To) {
			err = fmt.Errorf("entry %d outside the header's range %d to %d", e.Seq, h.From, h.To)
		}
		return Record{Entry: e}, err
	case "checkpoint":
		var l checkpointLine
		if err := strictUnmarshal(line, &l); err != nil {
			return Record{}, err
		}
		if l.Seq < h.From-1 || l.Seq > h.To {
			return Record{}, fmt.Errorf("checkpoint %d outside the header's range %d to %d", l.Seq, h.From, h.To)
		}
		return Record{Checkpoint: &posture.LedgerCheckpoint{
			Seq: l.Seq, Hash: l.Hash, At: fromMicros(l.At), KeyID: l.KeyID, Signature: l.Signature,
		}}, nil
	case "":
		return Record{}, errors.New(`no "type"`)
	default:
		return Record{}, fmt.Errorf("unknown type %q", probe.Type)
	}
}

// strictUnmarshal is json.Unmarshal refusing unknown fields.
func strictUnmarshal(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

func (l *headerLine) header() (*ExportHeader, error) {
	if l.Format != ExportFormat {
		return nil, fmt.Errorf("format %q, want %q", l.Format, ExportFormat)
	}
	if l.From < 1 || l.To < l.From {
		return nil, fmt.Errorf("invalid range %d to %d", l.From, l.To)
	}
	h := &ExportHeader{Format: l.Format, From: l.From, To: l.To}
	for _, k := range l.Keys {
		pub, err := ParsePublicKey(k.PublicKey)
		if err != nil {
			return nil, err
		}
		if KeyID(pub) != k.ID {
			return nil, fmt.Errorf("key id %q is not the id of its public key", k.ID)
		}
		h.Keys = append(h.Keys, pub)
	}
	return h, nil
}

func (l *entryLine) entry() (*posture.Event, error) {
	strs := l.strings()
	for name, b := range l.B64 {
		var taken bool
		switch s := strs[name]; {
		case s != nil:
			taken, *s = *s != "", string(b)
		case name == "before":
			taken, l.Before = l.Before != nil, json.RawMessage(b)
		case name == "after":
			taken, l.After = l.After != nil, json.RawMessage(b)
		default:
			return nil, fmt.Errorf("unknown field %q in b64", name)
		}
		if taken {
			return nil, fmt.Errorf("%q given both as is and in b64", name)
		}
	}
	return &posture.Event{
		Seq: l.Seq, At: fromMicros(l.At), Prev: l.Prev, Hash: l.Hash,
		Stream: l.Stream, Kind: l.Kind, Actor: l.Actor, ActorType: l.ActorType, Action: l.Action, Scope: l.Scope,
		Before: l.Before, After: l.After,
	}, nil
}

// VerifyExport reads an export and verifies it with keys, as a Verifier
// verifies the store: the report says what is broken, the error what is
// malformed. It also finds entries missing at either end of the header's
// range. The header's own keys are not used: pass keys obtained elsewhere
// (without keys, only the chain is checked: Report.ChainOnly).
func VerifyExport(r io.Reader, keys ...ed25519.PublicKey) (Report, error) {
	v := NewVerifier(keys...)
	err := ReadExport(r, func(rec Record) error {
		switch {
		case rec.Header != nil:
			v.from, v.expect = rec.Header.From, rec.Header.To
		case rec.Entry != nil:
			v.Entry(rec.Entry)
		case rec.Checkpoint != nil:
			if err := v.Checkpoint(*rec.Checkpoint); err != nil {
				return &ExportError{rec.Line, err}
			}
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	return v.Result(), nil
}

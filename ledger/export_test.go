package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/posture/posture"
)

// all yields entries as a store's read would.
func all(es []*posture.Event) iter.Seq2[*posture.Event, error] {
	return func(yield func(*posture.Event, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func pointers(cps []posture.LedgerCheckpoint) []*posture.LedgerCheckpoint {
	var out []*posture.LedgerCheckpoint
	for i := range cps {
		out = append(out, &cps[i])
	}
	return out
}

// export writes the entries from through to of c.
func (c *chain) export(t testing.TB, from, to int64) []byte {
	t.Helper()
	var es []*posture.Event
	for _, e := range c.entries {
		if e.Seq >= from && e.Seq <= to {
			es = append(es, e)
		}
	}
	var buf bytes.Buffer
	h := ExportHeader{From: from, To: to, Keys: []ed25519.PublicKey{c.signer.PublicKey()}}
	if err := Export(&buf, h, all(es), pointers(c.cps)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oddChain has entries whose bytes JSON does not carry as they are.
func oddChain() *chain {
	c := newChain(12, 5)
	for _, e := range []*posture.Event{
		{Actor: "bad\xffutf8", Before: json.RawMessage("{\n  \"pretty\": true\n}"), After: json.RawMessage(`{"html":"<a&b>","n":1.50}`)},
		{Before: json.RawMessage{}, After: json.RawMessage(" {} ")},
		{Before: json.RawMessage("null"), After: json.RawMessage("not json")},
		{Stream: "\x00\xc0", After: json.RawMessage("{\"s\":\"\xff\"}")},
		{Kind: "tab\there", After: json.RawMessage(`"\u2028"`)},
	} {
		e.At = time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
		c.append(e)
	}
	for i := 12; i < 20; i++ {
		c.append(testEntry(i))
	}
	return c
}

func TestExportRoundTrip(t *testing.T) {
	c := oddChain()
	n := int64(len(c.entries))
	out := c.export(t, 1, n)

	var got []*posture.Event
	var cps []posture.LedgerCheckpoint
	var header *ExportHeader
	err := ReadExport(bytes.NewReader(out), func(r Record) error {
		switch {
		case r.Header != nil:
			header = r.Header
		case r.Entry != nil:
			got = append(got, r.Entry)
		case r.Checkpoint != nil:
			cps = append(cps, *r.Checkpoint)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := &ExportHeader{Format: ExportFormat, From: 1, To: n, Keys: []ed25519.PublicKey{c.signer.PublicKey()}}
	if diff := cmp.Diff(wantHeader, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	// cmp tells a nil document from an empty one.
	if diff := cmp.Diff(c.entries, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(c.cps, cps); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}

	r, err := VerifyExport(bytes.NewReader(out), c.signer.PublicKey())
	want := Report{Entries: n, Checkpoints: 5, First: 1, Last: n, Head: c.entries[n-1].Hash}
	if diff := cmp.Diff(want, r); err != nil || diff != "" {
		t.Errorf("VerifyExport: %v (-want +got):\n%s", err, diff)
	}
	if lines := bytes.Count(out, []byte("\n")); lines != 1+int(n)+5 {
		t.Errorf("%d lines, want a header, %d entries and 5 checkpoints", lines, n)
	}
}

// TestExportLine pins the format of a line, as FORMAT.md shows it.
func TestExportLine(t *testing.T) {
	prev, e := vectorEntry()
	e.Prev = prev
	e.At = e.At.Truncate(time.Microsecond)
	e.Hash = Hash(prev, e)
	want := `{"type":"entry","seq":7,"at_us":1714566896789012,` +
		`"stream":"/subscriptions/s1/providers/microsoft.authorization/policyexemptions/e1",` +
		`"kind":"Created","actor":"alice@example.com","actor_type":"User",` +
		`"action":"Microsoft.Authorization/policyExemptions/write","scope":"/subscriptions/s1",` +
		`"prev":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","hash":"cK7yA/C2DEVoovY13AvJTjXThZ1Vj3pBY0asJ7w5d40=",` +
		`"after":{"properties":{"exemptionCategory":"Waiver"}}}` + "\n"
	if got := string(entryJSON(e)); got != want {
		t.Errorf("entry line:\n got %s\nwant %s", got, want)
	}
}

// TestExportRange: a range carries the checkpoints in it and the one just
// before it, which vouches for the first entry's Prev.
func TestExportRange(t *testing.T) {
	c := newChain(30, 10)
	out := c.export(t, 11, 25)
	var seqs []int64
	err := ReadExport(bytes.NewReader(out), func(r Record) error {
		switch {
		case r.Entry != nil:
			seqs = append(seqs, r.Entry.Seq)
		case r.Checkpoint != nil:
			seqs = append(seqs, -r.Checkpoint.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{-10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, -20, 21, 22, 23, 24, 25}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Errorf("entries and -checkpoints (-want +got):\n%s", diff)
	}
	r, err := VerifyExport(bytes.NewReader(out), c.signer.PublicKey())
	if err != nil || r.Broken != nil || r.Checkpoints != 2 {
		t.Errorf("VerifyExport = %+v, %v", r, err)
	}

	if err := Export(new(bytes.Buffer), ExportHeader{From: 5, To: 9}, all(c.entries[:10]), nil); err == nil {
		t.Errorf("Export wrote entries outside its range")
	}
}

// TestVerifyExportTampered edits an export's text.
func TestVerifyExportTampered(t *testing.T) {
	c := newChain(30, 10)
	out := string(c.export(t, 1, 30))
	lines := strings.SplitAfter(out, "\n")
	lines = lines[:len(lines)-1]
	// lines[0] is the header, 1 to 10 entries 1 to 10, 11 the checkpoint
	// of 10, 12 to 21 entries 11 to 20, 22 the checkpoint of 20, 23 to 32
	// entries 21 to 30, 33 the checkpoint of 30.
	without := func(i ...int) string {
		var b strings.Builder
		for n, l := range lines {
			if !contains(i, n) {
				b.WriteString(l)
			}
		}
		return b.String()
	}
	swapped := func(i, j int) string {
		ls := append([]string(nil), lines...)
		ls[i], ls[j] = ls[j], ls[i]
		return strings.Join(ls, "")
	}
	tests := []struct {
		name string
		text string
		want *Break
	}{
		{"intact", out, nil},
		{"edited actor", strings.Replace(out, `"actor":"user3@example.com"`, `"actor":"user4@example.com"`, 1), &Break{Seq: 4, Reason: ReasonEdited}},
		{"edited document", strings.Replace(out, `"description":"entry 2"`, `"description":"entry 2 "`, 1), &Break{Seq: 3, Reason: ReasonEdited}},
		{"middle entry removed", without(5), &Break{Seq: 6, Reason: ReasonRemoved}},
		{"first entry removed", without(1), &Break{Seq: 2, Reason: ReasonRemoved}},
		{"two entries swapped", swapped(5, 6), &Break{Seq: 5, Reason: ReasonOrder}},
		{"tail cut", without(len(lines)-2, len(lines)-1), &Break{Seq: 30, Reason: ReasonTruncated}},
		// Invisible but for a head kept elsewhere, as in the store.
		{"tail cut, header edited", strings.Replace(without(25, 26, 27, 28, 29, 30, 31, 32, 33), `"to":30`, `"to":22`, 1), nil},
		{"checkpoint edited", strings.Replace(out, `{"type":"checkpoint","seq":10`, `{"type":"checkpoint","seq":11`, 1), &Break{Seq: 11, Reason: ReasonSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.text == out && tt.want != nil {
				t.Fatal("the edit changed nothing")
			}
			r, err := VerifyExport(strings.NewReader(tt.text), c.signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.Broken, cmpopts.IgnoreFields(Break{}, "Detail")); diff != "" {
				t.Errorf("break (-want +got):\n%s", diff)
			}
		})
	}
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestReadExportMalformed: each malformed line is an error naming it.
func TestReadExportMalformed(t *testing.T) {
	c := newChain(3, 2)
	good := string(c.export(t, 1, 3))
	lines := strings.SplitAfter(good, "\n")
	header, entry, cp := lines[0], lines[2], lines[3]
	tests := []struct {
		name string
		text string
		line int
		want string // in the error
	}{
		{"empty", "", 1, "empty"},
		{"no header", entry, 1, "header"},
		{"two headers", header + header, 2, "header"},
		{"not JSON", header + "{entry\n", 2, "invalid character"},
		{"unknown field", header + strings.Replace(entry, `"kind"`, `"colour":"red","kind"`, 1), 2, `unknown field "colour"`},
		{"unknown header field", strings.Replace(header, `"from"`, `"signed":true,"from"`, 1), 1, `unknown field "signed"`},
		{"no type", header + `{"seq":1}` + "\n", 2, "type"},
		{"unknown type", header + `{"type":"comment"}` + "\n", 2, "comment"},
		{"other format", strings.Replace(header, "export-v1", "export-v2", 1), 1, "format"},
		{"bad range", strings.Replace(header, `"to":3`, `"to":0`, 1), 1, "range"},
		{"key id", strings.Replace(header, `"id":"`, `"id":"0`, 1), 1, "key id"},
		{"entry outside the range", strings.Replace(header, `"to":3`, `"to":1`, 1) + entry, 2, "outside"},
		{"checkpoint outside the range", strings.Replace(header, `"to":3`, `"to":1`, 1) + cp, 2, "outside"},
		{"data after the object", header + strings.TrimSuffix(entry, "\n") + "{}\n", 2, "after"},
		{"wrong type of value", header + strings.Replace(entry, `"seq":2`, `"seq":"2"`, 1), 2, "seq"},
		{"both as is and b64", header + strings.Replace(entry, `"kind":"Updated"`, `"kind":"Updated","b64":{"kind":"eA=="}`, 1), 2, "both"},
		{"unknown b64 field", header + strings.Replace(entry, `"kind"`, `"b64":{"colour":"eA=="},"kind"`, 1), 2, "colour"},
		{"blank line", header + "\n" + entry, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadExport(strings.NewReader(tt.text), func(Record) error { return nil })
			var ee *ExportError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want an *ExportError", err)
			}
			if ee.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want line %d and %q", err, tt.line, tt.want)
			}
			if _, err := VerifyExport(strings.NewReader(tt.text)); err == nil {
				t.Errorf("VerifyExport took it")
			}
		})
	}

	stop := errors.New("stop")
	if err := ReadExport(strings.NewReader(good), func(Record) error { return stop }); err != stop {
		t.Errorf("fn's error: got %v", err)
	}
}

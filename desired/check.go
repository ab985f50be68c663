package desired

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// Limits the server also enforces (exemption-structure.md; see the
// exemption package), checked here so that plan reports them with a line.
const (
	maxDisplayName = 128
	maxDescription = 512
)

// checker turns raw entries into Entries, checking what needs no estate.
type checker struct {
	file     string
	now      time.Time
	format   *format
	defaults *defaults
	probs    *Problems
}

// targets are the fields naming what is exempted; exactly one is given.
var targets = []string{fAssignment, fRecommend, fDefID, fDefName, fSetID, fSetName}

func (c *checker) add(e *raw, v *value, code, format string, args ...any) {
	c.probs.add(v.pos, e.field(v), code, format, args...)
}

func (c *checker) entry(e *raw) Entry {
	out := Entry{Pos: e.pos, Index: e.index, Fields: make(map[string]Pos, 16)}
	str := func(key string) (*value, string) {
		v := e.vals[key]
		if v == nil || strings.TrimSpace(v.text) == "" && v.list == nil && v.json == nil {
			return nil, ""
		}
		out.Fields[canonical(key)] = v.pos
		return v, v.text
	}

	if v, name := str(fName); v == nil {
		c.missing(e, fName)
	} else {
		out.Name = name
		if err := exemption.ValidateName(name); err != nil {
			c.add(e, v, CodeInvalidName, "%s", message(err))
		}
	}
	if v, s := str(fDisplayName); v != nil {
		out.DisplayName = s
		c.length(e, v, maxDisplayName)
	} else if c.format.epac {
		c.missing(e, fDisplayName) // EPAC's schema requires it
	}
	if v, s := str(fDescription); v != nil {
		out.Description = s
		c.length(e, v, maxDescription)
	}
	if v, s := str(fCategory); v != nil {
		out.Category = c.oneOf(e, v, s, CodeInvalidCategory, Waiver, Mitigated)
	} else if d := c.defaults; d != nil && d.category != "" {
		out.Category, out.Fields[fCategory] = d.category, d.pos[fCategory]
	} else {
		c.missing(e, fCategory)
	}
	c.scopes(e, &out)
	c.target(e, &out)
	c.referenceIDs(e, &out)
	if v, s := str(fExpiresOn); v != nil {
		out.ExpiresOn = c.expiresOn(e, v, s)
	} else if d := c.defaults; d != nil && !d.expiresOn.IsZero() {
		out.ExpiresOn, out.Fields[fExpiresOn] = d.expiresOn, d.pos[fExpiresOn]
	}
	if v, s := str(fOwner); v != nil {
		out.Owner = s
	} else if d := c.defaults; d != nil && d.owner != "" {
		out.Owner, out.Fields[fOwner] = d.owner, d.pos[fOwner]
	}
	if v, s := str(fTicket); v != nil {
		out.Ticket = s
	} else if d := c.defaults; d != nil && d.ticket != "" {
		out.Ticket, out.Fields[fTicket] = d.ticket, d.pos[fTicket]
	}
	out.Metadata = c.metadata(e, &out)
	if v, _ := str(fSelectors); v != nil {
		out.ResourceSelectors = v.json
	}
	if v, _ := str(fFilter); v != nil {
		out.ResourceFilter = v.json
	}
	if v, _ := str(fHistory); v != nil {
		out.History = v.json
	}
	if v, s := str(fValidation); v != nil {
		out.AssignmentScopeValidation = c.oneOf(e, v, s, CodeInvalidValidation, "Default", "DoNotValidate")
		// EPAC refuses this combination (SOURCE.md); posture's planner can
		// apply it to each assignment a definition fans out to.
		if c.format.epac && out.AssignmentScopeValidation == "DoNotValidate" && out.Assignment == "" {
			c.add(e, v, CodeInvalidValidation, "In EPAC files DoNotValidate is only valid with %s.", c.format.spelled(fAssignment))
		}
	}
	return out
}

// canonical maps the raw keys that share an Entry field to its name.
func canonical(key string) string {
	switch key {
	case fScope:
		return fScopes
	case fDefName:
		return fDefID
	case fSetName:
		return fSetID
	}
	return key
}

func (c *checker) missing(e *raw, key string) {
	if e.invalid[key] {
		return
	}
	name := c.format.spelled(key)
	c.probs.add(e.pos, e.path+"."+name, CodeMissingField, "The field '%s' is required.", name)
}

// message returns the text of a posture error without its code.
func message(err error) string {
	var pe *posture.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func (c *checker) length(e *raw, v *value, limit int) {
	if n := utf8.RuneCountInString(v.text); n > limit {
		c.add(e, v, CodeTooLong, "'%s' may have at most %d characters; it has %d.", v.written, limit, n)
	}
}

// oneOf reads an enumerated value case-insensitively (Azure's docs write
// "waiver") and returns its canonical spelling.
func (c *checker) oneOf(e *raw, v *value, s, code string, values ...string) string {
	for _, want := range values {
		if strings.EqualFold(strings.TrimSpace(s), want) {
			return want
		}
	}
	c.add(e, v, code, "'%s' is not a valid %s; use %s.", clip(s), v.written, strings.Join(values, " or "))
	return s
}

// Accepted expiresOn spellings: RFC 3339, a date, or a date-time without
// offset, which EPAC (and so this package) reads as UTC.
var expiryLayouts = []string{time.RFC3339Nano, "2006-01-02", "2006-01-02T15:04:05.999999999"}

func (c *checker) expiresOn(e *raw, v *value, s string) time.Time {
	t, ok := parseExpiry(s)
	if !ok {
		c.add(e, v, CodeInvalidExpiresOn, "'%s' is not a date (2027-01-31, meaning 00:00 UTC) or an RFC 3339 date-time (2027-01-31T17:00:00Z).", clip(s))
		return time.Time{}
	}
	if !c.now.Before(t) {
		c.add(e, v, CodeExpiryInPast, "The expiry %s is not after now (%s); extend it or remove the exemption.",
			t.Format(time.RFC3339), c.now.UTC().Format(time.RFC3339))
	}
	return t
}

// parseExpiry reads an expiry as UTC, to the microsecond as the server
// keeps it (so that plan does not see a difference that can never go).
func parseExpiry(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	layouts := expiryLayouts
	if len(s) == len("2006-01-02") {
		layouts = expiryLayouts[1:2] // the common case, without a failed RFC 3339 parse first
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC().Truncate(time.Microsecond)
			if y := t.Year(); y >= 1 && y <= 9999 {
				return t, true
			}
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

// metadata reads the entry's metadata over the defaults' (the entry's keys
// win).
func (c *checker) metadata(e *raw, out *Entry) map[string]any {
	var base map[string]any
	if d := c.defaults; d != nil && d.metadata != nil {
		base = maps.Clone(d.metadata)
		out.Fields[fMetadata] = d.pos[fMetadata]
	}
	v := e.vals[fMetadata]
	if v == nil {
		return base
	}
	out.Fields[fMetadata] = v.pos
	m, err := decodeObject(v.json)
	if err != nil {
		c.add(e, v, CodeWrongType, "'%s' must be a JSON object: %v.", v.written, err)
		return base
	}
	if base == nil {
		return m
	}
	maps.Copy(base, m)
	return base
}

// decodeObject decodes a JSON object keeping numbers as written.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null is not an object")
	}
	return m, nil
}

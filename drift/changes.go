package drift

import (
	"slices"
	"strings"
)

// ChangeKind says how a field differs between two fingerprints.
type ChangeKind string

const (
	// Modified: the rule reads the field in both, and its value differs
	// (including appearing or disappearing from the document).
	Modified ChangeKind = "modified"
	// Added: the rule reads a field it did not read when the old
	// fingerprint was taken (the definition or the alias catalog changed).
	Added ChangeKind = "added"
	// Removed: the rule no longer reads the field.
	Removed ChangeKind = "removed"
)

// Change is one field that differs between two fingerprints. Old is nil
// for Added, New for Removed.
type Change struct {
	Path string     `json:"path"`
	Kind ChangeKind `json:"kind"`
	Old  *Reading   `json:"old,omitempty"`
	New  *Reading   `json:"new,omitempty"`
}

// Changed compares two fingerprints field by field and returns what
// differs, sorted by path; nil when nothing does. Paths are matched
// ignoring case, as Fields de-duplicates them.
func Changed(old, cur Fingerprint) []Change {
	if old.Digest != "" && old.Digest == cur.Digest {
		return nil
	}
	before := make(map[string]*Reading, len(old.Fields))
	for i := range old.Fields {
		before[strings.ToLower(old.Fields[i].Path)] = &old.Fields[i].Reading
	}
	var out []Change
	seen := make(map[string]bool, len(cur.Fields))
	for i := range cur.Fields {
		f := &cur.Fields[i]
		key := strings.ToLower(f.Path)
		seen[key] = true
		n := f.Reading
		o, ok := before[key]
		switch {
		case !ok:
			out = append(out, Change{Path: f.Path, Kind: Added, New: &n})
		case o.Absent != n.Absent || o.Digest != n.Digest:
			oc := *o
			out = append(out, Change{Path: f.Path, Kind: Modified, Old: &oc, New: &n})
		}
	}
	for i := range old.Fields {
		f := &old.Fields[i]
		if key := strings.ToLower(f.Path); !seen[key] {
			seen[key] = true
			o := f.Reading
			out = append(out, Change{Path: f.Path, Kind: Removed, Old: &o})
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int { return strings.Compare(strings.ToLower(a.Path), strings.ToLower(b.Path)) })
	return out
}

// String renders the change for people, e.g.
// "properties.allowBlobPublicAccess: false → true". A value too long to
// keep shows as its digest, an absent one as "(absent)", and a field read
// on one side only as "(not read)" on the other.
func (c Change) String() string {
	return c.Path + ": " + c.Old.String() + " → " + c.New.String()
}

// String renders a reading: its value, "(absent)", a shortened digest, or
// "(not read)" for nil.
func (r *Reading) String() string {
	switch {
	case r == nil:
		return "(not read)"
	case r.Absent:
		return "(absent)"
	case len(r.Value) > 0:
		return string(r.Value)
	case len(r.Digest) > len("sha256:")+12:
		return r.Digest[:len("sha256:")+12] + "…"
	}
	return r.Digest
}

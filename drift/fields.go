package drift

import (
	"slices"
	"strings"

	"github.com/posture/posture/policy"
)

// Fields returns the document paths the reference's rule reads of the
// evaluated resource itself (its Facts.Fields without the Related ones,
// which belong to the resource an existence check looks up), de-duplicated
// and sorted, both ignoring case. Built-in fields (name, type, location, tags…) are included by
// name. A field derived for an alias outside the catalog contributes each
// of its alternative paths, and an alias that maps differently on some
// types contributes those paths too (policy.FieldFact.ReadPaths), so a
// fingerprint covers whatever the rule may read.
func Fields(cr *policy.CompiledReference) []string {
	if cr == nil {
		return nil
	}
	var out []string
	for _, f := range cr.Facts.Fields {
		if !f.Related {
			out = append(out, f.ReadPaths()...)
		}
	}
	return normalize(out)
}

// normalize sorts paths and drops duplicates, including those that differ
// only in case: keys match case-insensitively, so they read the same value.
func normalize(paths []string) []string {
	slices.SortFunc(paths, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return slices.CompactFunc(paths, strings.EqualFold)
}

package api

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
)

// Fuzz targets for the query parameters every list reads: the $filter
// clauses (splitAnd, parseEq and the filters built on them) and
// api-version. Errors are coded EINVALID errors; a filter that parses
// means the same once written out again.

func quoteOData(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

func codedInvalid(err error) bool {
	pe, ok := err.(*posture.Error)
	return ok && pe.Kind == posture.EINVALID && pe.Code != ""
}

func FuzzResourceFilter(f *testing.F) {
	for _, s := range []string{"", "resourceType eq 'Microsoft.Storage/storageAccounts'", "location eq 'West Europe' and tagName eq 'env' and tagValue eq 'it''s'",
		"resourceType eq 'a' and resourceType eq 'b'", "tagValue eq 'x'", "name eq 'x'", "location eq westeurope", "resourceType  eq  'a and b'", "tagName EQ 'a' AND tagValue eq ''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if j := strings.Join(splitAnd(s), " and "); !strings.EqualFold(j, s) {
			t.Fatalf("splitAnd(%q) joins back to %q", s, j)
		}
		var got posture.ResourceFilter
		if err := parseResourceFilter(s, &got); err != nil {
			if !codedInvalid(err) || posture.ErrorCode(err) != "InvalidFilterInQueryString" {
				t.Fatalf("parseResourceFilter(%q): %v", s, err)
			}
			return
		}
		var terms []string
		for _, typ := range got.Types {
			terms = append(terms, "resourceType eq "+quoteOData(typ))
		}
		if got.Location != "" {
			terms = append(terms, "location eq "+quoteOData(got.Location))
		}
		if got.TagName != "" {
			terms = append(terms, "tagName eq "+quoteOData(got.TagName))
		}
		if got.TagValue != "" {
			terms = append(terms, "tagValue eq "+quoteOData(got.TagValue))
		}
		written := strings.Join(terms, " and ")
		var again posture.ResourceFilter
		if err := parseResourceFilter(written, &again); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, got, written, again, err)
		}
	})
}

func FuzzPolicyFilter(f *testing.F) {
	for _, s := range []string{"atScope()", "atExactScope() and policyType eq 'BuiltIn'", "policyDefinitionId eq '/providers/Microsoft.Authorization/policyDefinitions/x'",
		"policyType eq 'Custom' and atScope()", "policyType ne 'x'", "atScope"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := posture.PolicyObjectFilter{Below: true}
		if err := parsePolicyFilter(s, &got); err != nil {
			if !codedInvalid(err) {
				t.Fatalf("parsePolicyFilter(%q): %v", s, err)
			}
			return
		}
		var terms []string
		switch {
		case got.ExactScope:
			terms = append(terms, "atExactScope()")
		case !got.Below:
			terms = append(terms, "atScope()")
		}
		if got.DefinitionID != "" {
			terms = append(terms, "policyDefinitionId eq "+quoteOData(got.DefinitionID))
		}
		if got.PolicyType != "" {
			terms = append(terms, "policyType eq "+quoteOData(got.PolicyType))
		}
		written := strings.Join(terms, " and ")
		again := posture.PolicyObjectFilter{Below: true}
		if err := parsePolicyFilter(written, &again); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, got, written, again, err)
		}
	})
}

// FuzzParseEq: a clause written from what parseEq read reads the same.
func FuzzParseEq(f *testing.F) {
	for _, s := range []string{"a eq 'b'", "a eq 'it''s'", " a  EQ  'x y' ", "a eq ''", "a eq 'unterminated", "a", "a eq b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		field, value, err := parseEq(s)
		if err != nil {
			if !codedInvalid(err) {
				t.Fatalf("parseEq(%q): %v", s, err)
			}
			return
		}
		f2, v2, err := parseEq(field + " eq " + quoteOData(value))
		if err != nil || f2 != field || v2 != value {
			t.Fatalf("parseEq(%q) = %q, %q; written again: %q, %q, %v", s, field, value, f2, v2, err)
		}
	})
}

// FuzzAPIVersion: any api-version is accepted or refused with a coded
// error, never a panic; a version accepted as well-formed is a real date.
func FuzzAPIVersion(f *testing.F) {
	for _, s := range []string{"2022-12-01", "2022-07-01-preview", "2024-01-01-alpha", "2013-12-31", "9999-12-31", "2022-13-01", "", "2022-12-01-preview-preview", "２０２２-１２-０１"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []apiVersions{nil, exemptionVersions, resourceManagerVersions} {
			err := v.check(s, now)
			if err != nil {
				if !codedInvalid(err) {
					t.Fatalf("check(%q): %v", s, err)
				}
				continue
			}
			if v == nil {
				d, err := time.Parse("2006-01-02", s[:10])
				if err != nil || d.Year() < 2014 || d.After(now.AddDate(0, 1, 0)) {
					t.Fatalf("%q is accepted as well-formed: %v", s, err)
				}
			}
		}
	})
}

package match_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/posture/posture/match"
)

// refMatch is a second, deliberately plain reading of docs/resource-filters.md
// over a filter's canonical JSON: no caches, no length prefilters, like by
// translation to a regexp. The fuzz targets compare Match with it.
func refMatch(canonical []byte, r *match.Resource) bool {
	var c map[string]any
	if err := json.Unmarshal(canonical, &c); err != nil {
		panic(err)
	}
	return refCond(c, r)
}

func refCond(c map[string]any, r *match.Resource) bool {
	if kids, ok := c["allOf"].([]any); ok {
		for _, k := range kids {
			if !refCond(k.(map[string]any), r) {
				return false
			}
		}
		return true
	}
	if kids, ok := c["anyOf"].([]any); ok {
		for _, k := range kids {
			if refCond(k.(map[string]any), r) {
				return true
			}
		}
		return false
	}
	if k, ok := c["not"]; ok {
		return !refCond(k.(map[string]any), r)
	}
	field := c["field"].(string)
	v, exists := refRead(field, r)
	for op, arg := range c {
		if op == "field" {
			continue
		}
		if op == "exists" {
			return exists == arg.(bool) // §10
		}
		neg := strings.HasPrefix(op, "not")
		if !exists {
			return neg // §12
		}
		pos := strings.ToLower(strings.TrimPrefix(op, "not")) // §11
		hit := false
		switch pos {
		case "equals":
			hit = strings.EqualFold(v, refValue(field, arg.(string)))
		case "in":
			for _, a := range arg.([]any) {
				hit = hit || strings.EqualFold(v, refValue(field, a.(string)))
			}
		case "like":
			parts := strings.Split(refValue(field, arg.(string)), "*")
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			hit = regexp.MustCompile(`(?is)^` + strings.Join(parts, ".*") + `$`).MatchString(v)
		case "regex":
			// The whole value matches when the leftmost-longest match
			// spans it: no wrapping of the pattern needed.
			re := regexp.MustCompile(`(?i)` + arg.(string))
			re.Longest()
			loc := re.FindStringIndex(v)
			hit = loc != nil && loc[0] == 0 && loc[1] == len(v)
		}
		return hit != neg
	}
	panic("no operator")
}

// refRead returns a field of r and whether it exists (§3, §4.2, §13).
func refRead(field string, r *match.Resource) (string, bool) {
	switch field {
	case "name":
		return r.Name, true
	case "type":
		return r.Type, true
	case "id":
		return r.ID, true
	case "subscriptionId":
		return r.SubscriptionID, true
	case "resourceGroup":
		return r.ResourceGroup, r.ResourceGroup != ""
	case "location":
		l := refLocation(r.Location)
		return l, l != ""
	}
	key := strings.TrimSuffix(strings.TrimPrefix(field, "tags['"), "']")
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return r.Tags[k], true
		}
	}
	return "", false
}

func refValue(field, v string) string {
	if field == "location" {
		return refLocation(v)
	}
	return v
}

func refLocation(v string) string {
	return strings.ToLower(strings.ReplaceAll(v, " ", ""))
}

package desired

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Canonical field keys: the names of posture's format, which the checks
// and Entry.Fields use whatever the file spelled.
const (
	fName        = "name"
	fDisplayName = "displayName"
	fDescription = "description"
	fCategory    = "category"
	fScope       = "scope"
	fScopes      = "scopes"
	fAssignment  = "assignment"
	fRecommend   = "recommendation"
	fDefID       = "policyDefinitionId"
	fDefName     = "policyDefinitionName"
	fSetID       = "policySetDefinitionId"
	fSetName     = "policySetDefinitionName"
	fRefs        = "policyDefinitionReferenceIds"
	fExpiresOn   = "expiresOn"
	fOwner       = "owner"
	fTicket      = "ticket"
	fMetadata    = "metadata"
	fSelectors   = "resourceSelectors"
	fFilter      = "resourceFilter"
	fValidation  = "assignmentScopeValidation"
	fHistory     = "history"
)

type kind uint8

const (
	kString kind = iota
	kList        // strings; in CSV, one cell separated by '&'
	kObject      // a JSON object
	kArray       // a JSON array
	kRef         // EPAC CSV's assignmentReferenceId: its value says what it is
	kReport      // a column of EPAC's reports, not of its definitions
)

type spec struct {
	key  string
	kind kind
}

// format is one schema: its field names and the hints given for names
// that belong to another format.
type format struct {
	name   string
	noun   string // "An EPAC exemption has no field 'x'"
	epac   bool
	fields map[string]spec
	// spell is the format's name for a canonical key, for messages.
	spell map[string]string
	hints map[string]string
	// target says which fields name what is exempted.
	target string
}

func (f *format) spelled(key string) string {
	if s, ok := f.spell[key]; ok {
		return s
	}
	return key
}

var postureFormat = &format{
	name: "posture",
	noun: "A posture exemption has no field",
	fields: map[string]spec{
		fName: {fName, kString}, fDisplayName: {fDisplayName, kString},
		fDescription: {fDescription, kString}, fCategory: {fCategory, kString},
		fScope: {fScope, kString}, fScopes: {fScopes, kList},
		fAssignment: {fAssignment, kString}, fRecommend: {fRecommend, kString},
		fDefID: {fDefID, kString}, fDefName: {fDefName, kString},
		fSetID: {fSetID, kString}, fSetName: {fSetName, kString},
		fRefs: {fRefs, kList}, fExpiresOn: {fExpiresOn, kString},
		fOwner: {fOwner, kString}, fTicket: {fTicket, kString},
		fMetadata: {fMetadata, kObject}, fSelectors: {fSelectors, kArray},
		fFilter: {fFilter, kObject}, fValidation: {fValidation, kString},
		fHistory: {fHistory, kArray},
	},
	target: "One of the fields assignment, recommendation, policyDefinitionId, policyDefinitionName, policySetDefinitionId and policySetDefinitionName is required.",
	hints: map[string]string{
		"exemptionCategory":     "'exemptionCategory' is EPAC's name; posture files call it 'category'.",
		"policyAssignmentId":    "'policyAssignmentId' is EPAC's name; posture files call it 'assignment'.",
		"assignmentReferenceId": "'assignmentReferenceId' is an EPAC CSV column; posture files use 'assignment', 'policyDefinitionId' or 'policySetDefinitionId'.",
		"referenceIds":          "Did you mean 'policyDefinitionReferenceIds'?",
	},
}

// The EPAC fields are those of its exemption schema; status and
// expiresInDays are columns of the reports its Get-AzExemptions writes
// (see SOURCE.md).
var epacJSON = &format{
	name: "EPAC",
	noun: "An EPAC exemption has no field",
	epac: true,
	fields: map[string]spec{
		fName: {fName, kString}, fDisplayName: {fDisplayName, kString},
		fDescription: {fDescription, kString}, "exemptionCategory": {fCategory, kString},
		fExpiresOn: {fExpiresOn, kString}, fScope: {fScope, kString}, fScopes: {fScopes, kList},
		"policyAssignmentId": {fAssignment, kString}, fRefs: {fRefs, kList},
		fDefID: {fDefID, kString}, fDefName: {fDefName, kString},
		fSetID: {fSetID, kString}, fSetName: {fSetName, kString},
		fSelectors: {fSelectors, kArray}, fValidation: {fValidation, kString},
		fMetadata: {fMetadata, kObject},
		"status":  {"status", kReport}, "expiresInDays": {"expiresInDays", kReport},
	},
	spell:  map[string]string{fCategory: "exemptionCategory", fAssignment: "policyAssignmentId"},
	hints:  epacHints,
	target: "One of the fields policyAssignmentId, policyDefinitionId, policyDefinitionName, policySetDefinitionId and policySetDefinitionName is required.",
}

var epacCSV = &format{
	name: "EPAC CSV",
	noun: "An EPAC CSV file has no column",
	epac: true,
	fields: map[string]spec{
		fName: {fName, kString}, fDisplayName: {fDisplayName, kString},
		fDescription: {fDescription, kString}, "exemptionCategory": {fCategory, kString},
		fExpiresOn: {fExpiresOn, kString}, fScope: {fScope, kString}, fScopes: {fScopes, kList},
		"policyAssignmentId": {fAssignment, kString}, "assignmentReferenceId": {"assignmentReferenceId", kRef},
		fRefs: {fRefs, kList}, fSelectors: {fSelectors, kArray}, fMetadata: {fMetadata, kObject},
		fValidation: {fValidation, kString},
		"status":    {"status", kReport}, "expiresInDays": {"expiresInDays", kReport},
	},
	spell:  map[string]string{fCategory: "exemptionCategory", fAssignment: "assignmentReferenceId"},
	hints:  csvHints,
	target: "One of the cells assignmentReferenceId and policyAssignmentId must have a value.",
}

var epacHints = map[string]string{
	fCategory:      "EPAC calls it 'exemptionCategory'.",
	fAssignment:    "EPAC calls it 'policyAssignmentId'.",
	fRecommend:     "'recommendation' is a posture-format field; EPAC files have none. Write the file in posture's format (no $schema, 'category' for 'exemptionCategory').",
	fOwner:         "'owner' is a posture-format field; EPAC files have none (put it in metadata, or use posture's format).",
	fTicket:        "'ticket' is a posture-format field; EPAC files have none (put it in metadata, or use posture's format).",
	fFilter:        "'resourceFilter' is a posture-format field; EPAC files have none. Use posture's format.",
	fHistory:       "'history' is a posture-format field; EPAC files have none.",
	"defaults":     "'defaults' is a posture-format field; EPAC files have none.",
	"referenceIds": "Did you mean 'policyDefinitionReferenceIds'?",
}

// csvHints add that EPAC's CSV names the policy (set) definition in
// assignmentReferenceId, not in columns of its own.
var csvHints = func() map[string]string {
	h := maps.Clone(epacHints)
	for _, k := range []string{fDefID, fDefName, fSetID, fSetName} {
		h[k] = "EPAC CSV files name the policy or policy set definition in the column assignmentReferenceId: its id, policyDefinitions/{name} or policySetDefinitions/{name}."
	}
	return h
}()

// unknown reports a field the format does not have, with the closest
// known name or a hint about the other format.
func (r *reader) unknown(at Pos, field, name string, f *format) {
	msg := fmt.Sprintf("%s '%s'.", f.noun, clip(name))
	if h, ok := f.hints[name]; ok {
		msg += " " + h
	} else if s := suggest(name, f.fields); s != "" {
		msg += fmt.Sprintf(" Did you mean '%s'?", s)
	}
	r.probs.add(at, field, CodeUnknownField, "%s", msg)
}

func (r *reader) report(at Pos, field, name string) {
	r.probs.add(at, field, CodeUnsupportedField,
		"'%s' is a column of EPAC's exemption reports (Get-AzExemptions), not of exemption definitions; remove it, or export with -ExportForEpac.", name)
}

// suggest returns the known name closest to name, if it is close enough
// to be a typo: the same but for case, or a few edits away.
func suggest(name string, fields map[string]spec) string {
	lower := strings.ToLower(name)
	best, bestDist := "", max(2, len(name)/3)+1
	names := make([]string, 0, len(fields))
	for k, s := range fields {
		if s.kind != kReport {
			names = append(names, k)
		}
	}
	slices.Sort(names) // the same answer every time on a tie
	for _, k := range names {
		d := distance(lower, strings.ToLower(k))
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // not a typo of a field name
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// value is one given field, before its meaning is checked.
type value struct {
	written string // the field's name as the file spells it
	pos     Pos
	text    string
	list    []item
	json    []byte // compact JSON, for kObject and kArray
}

type item struct {
	text string
	pos  Pos
}

// raw is an entry's (or the defaults') given fields by canonical key.
type raw struct {
	pos   Pos
	index int
	path  string // exemptions[3], or defaults
	vals  map[string]*value
	// invalid holds the keys given with a value that could not be read
	// (already reported), so that they are not also reported missing.
	invalid map[string]bool
}

func (e *raw) field(v *value) string { return e.path + "." + v.written }

func (e *raw) markInvalid(key string) {
	if e.invalid == nil {
		e.invalid = map[string]bool{}
	}
	e.invalid[key] = true
}

// index is the path of a list item: index("scopes", 2) is scopes[2].
func index(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

// fieldKeys are the Entry.Fields keys of the first list items, built once:
// most entries have a scope or two and few reference ids.
var fieldKeys = map[string][]string{}

func init() {
	for _, f := range []string{fScopes, fRefs} {
		for i := range 16 {
			fieldKeys[f] = append(fieldKeys[f], index(f, i))
		}
	}
}

func fieldKey(field string, i int) string {
	if keys := fieldKeys[field]; i < len(keys) {
		return keys[i]
	}
	return index(field, i)
}

// rawEntry reads the fields of one entry object. Null values count as not
// given, as EPAC's schema allows them for optional fields.
func (r *reader) rawEntry(n *yaml.Node, path string, index int, f *format) *raw {
	e := &raw{pos: r.pos(n), index: index, path: path, vals: make(map[string]*value, len(n.Content)/2)}
	var seen keySet
	// One allocation for all the values; the capacity is never exceeded,
	// so pointers into it stay valid.
	store := make([]value, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := r.key(k, e.path)
		if !ok {
			continue
		}
		field := func() string { return e.path + "." + name }
		if prev := seen.add(name, k); prev != nil {
			r.add(k, field(), CodeDuplicateField, "'%s' is given twice; the first is at %s.", name, r.pos(prev))
			continue
		}
		sp, known := f.fields[name]
		switch {
		case !known:
			r.unknown(r.pos(k), field(), name, f)
			continue
		case sp.kind == kReport:
			r.report(r.pos(k), field(), name)
			continue
		case isNull(v):
			continue
		}
		store = append(store, value{written: name, pos: r.pos(v)})
		val := &store[len(store)-1]
		if r.read(val, v, sp.kind, field) {
			e.vals[sp.key] = val
		} else {
			e.markInvalid(sp.key)
		}
	}
	return e
}

// key reads a mapping key, which must be a string.
func (r *reader) key(k *yaml.Node, path string) (string, bool) {
	if k.Kind == yaml.ScalarNode && (quoted(k) || k.ShortTag() == "!!str") {
		return k.Value, true
	}
	if k.ShortTag() == "!!merge" {
		r.add(k, path, CodeUnsupportedYAML, "YAML merge keys (<<) are not supported; use defaults.")
		return "", false
	}
	r.add(k, path, CodeWrongType, "Field names must be strings, not %s.", describe(k))
	return "", false
}

// read decodes a value of the given kind into val.
func (r *reader) read(val *value, n *yaml.Node, k kind, field path) bool {
	switch k {
	case kString:
		s, ok, _ := r.str(n, field)
		val.text = s
		return ok
	case kList:
		if n.Kind != yaml.SequenceNode {
			r.add(n, field(), CodeWrongType, "%s must be a list of strings, not %s.", leaf(field()), describe(n))
			return false
		}
		ok := true
		for i, c := range n.Content {
			s, sok, null := r.str(c, func() string { return index(field(), i) })
			if null {
				r.add(c, index(field(), i), CodeWrongType, "%s[%d] must be a string, not null.", leaf(field()), i)
			}
			ok = ok && sok
			val.list = append(val.list, item{s, r.pos(c)})
		}
		return ok
	case kObject, kArray:
		want, what := yaml.MappingNode, "an object"
		if k == kArray {
			want, what = yaml.SequenceNode, "a list"
		}
		if n.Kind != want {
			r.add(n, field(), CodeWrongType, "%s must be %s, not %s.", leaf(field()), what, describe(n))
			return false
		}
		var ok bool
		val.json, ok = r.toJSON(nil, n, field)
		return ok
	}
	return false
}

// keySet finds repeated keys: by scanning for the few keys of an entry,
// by a map for the many of a large metadata object.
type keySet struct {
	n     int
	names [32]string
	nodes [32]*yaml.Node
	m     map[string]*yaml.Node
}

// add records name and returns the node that had it before, if any.
func (s *keySet) add(name string, n *yaml.Node) *yaml.Node {
	if s.m != nil {
		if prev := s.m[name]; prev != nil {
			return prev
		}
		s.m[name] = n
		return nil
	}
	for i, k := range s.names[:s.n] {
		if k == name {
			return s.nodes[i]
		}
	}
	if s.n == len(s.names) {
		s.m = make(map[string]*yaml.Node, 2*s.n)
		for i, k := range s.names {
			s.m[k] = s.nodes[i]
		}
		s.m[name] = n
		return nil
	}
	s.names[s.n], s.nodes[s.n] = name, n
	s.n++
	return nil
}

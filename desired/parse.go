package desired

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse reads one desired-state file. The syntax follows the extension
// (.yaml, .yml, .json, .jsonc, .csv; anything else is JSON when it starts
// with '{', else YAML), the schema follows the content: EPAC when $schema
// names EPAC's exemption schema or the entries use EPAC's field names,
// posture otherwise.
//
// Entries come back even when there are problems, as far as they could
// be read, so that callers can show them; they are not fit to apply
// unless Problems is empty. Names used twice at the same scope are
// problems (ParseFiles checks this across files).
func Parse(file string, data []byte, now time.Time) ([]Entry, Problems) {
	entries, probs := parse(file, data, now)
	probs = append(probs, duplicates(entries)...)
	probs.sort()
	return entries, probs
}

// ParseFiles reads and parses the files, and reports names used twice at
// the same scope across all of them; the later one points at the first.
func ParseFiles(paths []string, now time.Time) ([]Entry, Problems) {
	var all []Entry
	var probs Problems
	for _, path := range paths {
		data, err := readFile(path)
		if err != nil {
			probs = append(probs, *err)
			continue
		}
		entries, p := parse(path, data, now)
		all = append(all, entries...)
		probs = append(probs, p...)
	}
	probs = append(probs, duplicates(all)...)
	probs.sort()
	return all, probs
}

// readFile reads a file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, *Problem) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Problem{Pos: Pos{File: path}, Code: CodeReadError, Message: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Problem{Pos: Pos{File: path}, Code: CodeReadError, Message: err.Error()}
	}
	return data, nil
}

var bom = []byte("\xef\xbb\xbf")

func parse(file string, data []byte, now time.Time) ([]Entry, Problems) {
	var probs Problems
	start := Pos{File: file, Line: 1, Column: 1}
	if len(data) > MaxFileSize {
		probs.add(start, "", CodeFileTooLarge, "The file has more than %d bytes.", MaxFileSize)
		return nil, probs
	}
	data = bytes.TrimPrefix(data, bom) // Windows editors and PowerShell write one
	if !utf8.Valid(data) {
		line, col := position(data, invalidUTF8(data))
		probs.add(Pos{File: file, Line: line, Column: col}, "", CodeInvalidEncoding, "The file is not UTF-8 text.")
		return nil, probs
	}
	if len(bytes.TrimSpace(data)) == 0 {
		probs.add(start, "", CodeEmptyFile, "The file is empty; it needs a list of exemptions.")
		return nil, probs
	}
	c := &checker{file: file, now: now, probs: &probs}
	r := &reader{file: file, yaml: true, probs: &probs}
	ext := strings.ToLower(filepath.Ext(file))
	if ext == ".csv" {
		return parseCSV(r, c, data), probs
	}
	src := data
	if ext == ".json" || ext == ".jsonc" || (ext != ".yaml" && ext != ".yml" && bytes.TrimSpace(data)[0] == '{') {
		r.yaml = false
		src = cleanJSON(data, true)
	}
	doc, empty := r.decodeYAML(src)
	switch {
	case empty:
		probs.add(start, "", CodeEmptyFile, "The file has no content (only comments); it needs a list of exemptions.")
		return nil, probs
	case doc == nil && !r.yaml:
		// The YAML parser's position of a JSON mistake is at best a line.
		if line, col, msg, ok := jsonSyntaxError(data); ok {
			probs = Problems{{Pos: Pos{File: file, Line: line, Column: col}, Code: CodeInvalidJSON, Message: "The file is not valid JSON: " + msg + "."}}
		} else if len(probs) == 1 && probs[0].Code == CodeInvalidYAML {
			probs[0].Code = CodeInvalidJSON
		}
		return nil, probs
	case doc == nil:
		return nil, probs
	}
	return r.document(c, doc), probs
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// document reads the top-level object of a YAML or JSON file.
func (r *reader) document(c *checker, doc *yaml.Node) []Entry {
	if doc.Kind != yaml.MappingNode {
		r.add(doc, "", CodeNotAnObject, "The file must be an object with a list 'exemptions', not %s.", describe(doc))
		return nil
	}
	f := detect(doc)
	c.format = f
	var list, defs *yaml.Node
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		name, ok := r.key(k, "")
		if !ok {
			continue
		}
		if prev := keys[name]; prev != nil {
			r.add(k, name, CodeDuplicateField, "'%s' is given twice; the first is at %s.", name, r.pos(prev))
			continue
		}
		keys[name] = k
		switch {
		case name == "$schema":
			// Editors read it; its value chose the format in detect.
		case name == "exemptions":
			list = v
		case name == "defaults" && !f.epac:
			defs = v
		default:
			top := map[string]spec{"exemptions": {}, "$schema": {}}
			if !f.epac {
				top["defaults"] = spec{}
			}
			r.unknown(r.pos(k), name, name, &format{noun: "The top level of a " + f.name + " file has no field", fields: top, hints: f.hints})
		}
	}
	if defs != nil && !isNull(defs) {
		c.defaults = r.defaults(c, defs)
	}
	switch {
	case list != nil && list.Kind == yaml.AliasNode:
		r.alias(list, func() string { return "exemptions" })
		return nil
	case list == nil:
		r.add(doc, "exemptions", CodeMissingField, "The field 'exemptions' (the list of exemptions) is required.")
		return nil
	case isNull(list):
		return nil // an empty list: nothing is desired
	case list.Kind != yaml.SequenceNode:
		r.add(list, "exemptions", CodeWrongType, "'exemptions' must be a list, not %s.", describe(list))
		return nil
	case len(list.Content) > MaxEntries:
		r.add(list, "exemptions", CodeTooManyEntries, "The file has %d exemptions; at most %d are read from one file.", len(list.Content), MaxEntries)
		return nil
	}
	entries := make([]Entry, 0, len(list.Content))
	for i, n := range list.Content {
		path := index("exemptions", i)
		switch n.Kind {
		case yaml.MappingNode:
		case yaml.AliasNode:
			r.alias(n, func() string { return path })
			continue
		default:
			r.add(n, path, CodeWrongType, "Each exemption must be an object, not %s.", describe(n))
			continue
		}
		entries = append(entries, c.entry(r.rawEntry(n, path, i, f)))
	}
	return entries
}

// detect tells EPAC files from posture's: by $schema, else by which
// format's own field names the entries use more. Both have name, scope,
// policyDefinitionId and a few more in common.
func detect(doc *yaml.Node) *format {
	votes := 0
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch k.Value {
		case "$schema":
			if s := strings.ToLower(v.Value); strings.Contains(s, "policy-exemption-schema") || strings.Contains(s, "enterprise-azure-policy-as-code") {
				return epacJSON
			}
		case "defaults":
			votes -= 1000
		case "exemptions":
			for _, e := range v.Content {
				for j := 0; j+1 < len(e.Content); j += 2 {
					switch e.Content[j].Value {
					case "exemptionCategory", "policyAssignmentId":
						votes++
					case fCategory, fAssignment, fRecommend, fOwner, fTicket, fFilter, fHistory:
						votes--
					}
				}
			}
		}
	}
	if votes > 0 {
		return epacJSON
	}
	return postureFormat
}

// defaults holds the resolved top-level defaults of a posture file.
type defaults struct {
	category      string
	expiresOn     time.Time
	owner, ticket string
	metadata      map[string]any
	pos           map[string]Pos
}

var defaultsFormat = &format{
	name: "posture",
	noun: "'defaults' sets only category, expiresOn, owner, ticket and metadata, not",
	fields: map[string]spec{
		fCategory: {fCategory, kString}, fExpiresOn: {fExpiresOn, kString},
		fOwner: {fOwner, kString}, fTicket: {fTicket, kString}, fMetadata: {fMetadata, kObject},
	},
}

// defaults reads and checks the defaults once, so that a mistake in them
// is reported once, not for every entry that inherits it.
func (r *reader) defaults(c *checker, n *yaml.Node) *defaults {
	if n.Kind == yaml.AliasNode {
		r.alias(n, func() string { return "defaults" })
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.add(n, "defaults", CodeWrongType, "'defaults' must be an object, not %s.", describe(n))
		return nil
	}
	e := r.rawEntry(n, "defaults", 0, defaultsFormat)
	d := &defaults{pos: map[string]Pos{}}
	for key, v := range e.vals {
		s := strings.TrimSpace(v.text)
		if s == "" && v.json == nil {
			continue
		}
		d.pos[key] = v.pos
		switch key {
		case fCategory:
			d.category = c.oneOf(e, v, s, CodeInvalidCategory, Waiver, Mitigated)
		case fExpiresOn:
			d.expiresOn = c.expiresOn(e, v, s)
		case fOwner:
			d.owner = v.text
		case fTicket:
			d.ticket = v.text
		case fMetadata:
			m, err := decodeObject(v.json)
			if err != nil {
				c.add(e, v, CodeWrongType, "'metadata' must be a JSON object: %v.", err)
			}
			d.metadata = m
		}
	}
	return d
}

// duplicates reports each entry whose name is already used at one of its
// scopes by an earlier entry. ARM compares names and scopes ignoring case.
func duplicates(entries []Entry) Problems {
	var probs Problems
	first := map[string]*Entry{}
	for i := range entries {
		e := &entries[i]
		if e.Name == "" {
			continue
		}
		reported := false
		for _, s := range e.Scopes {
			key := strings.ToLower(e.Name) + "\x00" + strings.ToLower(s)
			prev, ok := first[key]
			switch {
			case !ok:
				first[key] = e
			case prev != e && !reported:
				reported = true
				at := e.Fields[fName]
				probs.add(at, index("exemptions", e.Index)+".name", CodeDuplicateName,
					"The exemption name '%s' is already used at scope '%s' by exemptions[%d] at %s.",
					e.Name, clip(s), prev.Index, prev.Fields[fName])
			}
		}
	}
	return probs
}

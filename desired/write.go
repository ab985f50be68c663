package desired

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Write renders entries as a posture YAML file, for `posture exemptions
// adopt`. The output does not depend on the order of entries or of
// metadata keys: entries are sorted by name, then scopes (ignoring case),
// fields come in a fixed order and metadata keys sorted; the key order of
// resourceSelectors, resourceFilter and history is kept. Parse reads the
// output back to the same entries (but for Pos, Fields and Index; JSON
// fields come back compact, in Parse's spelling of the same JSON). Empty
// and blank fields are left out, as Parse reads them as not given; Write
// does not check the entries.
func Write(w io.Writer, entries []Entry) error {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(strings.ToLower(strings.Join(a.Scopes, "\n")), strings.ToLower(strings.Join(b.Scopes, "\n"))))
	})
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for i, e := range sorted {
		n, err := entryNode(e)
		if err != nil {
			return fmt.Errorf("desired: exemptions[%d] (%s): %w", i, e.Name, err)
		}
		list.Content = append(list.Content, n)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("exemptions"), list}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("desired: %w", err)
	}
	return enc.Close()
}

func entryNode(e Entry) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	put := func(key string, v *yaml.Node) { m.Content = append(m.Content, str(key), v) }
	text := func(key, s string) {
		if strings.TrimSpace(s) != "" { // Parse reads blank text as not given
			put(key, str(s))
		}
	}
	text(fName, e.Name)
	text(fDisplayName, e.DisplayName)
	text(fDescription, e.Description)
	text(fCategory, e.Category)
	if len(e.Scopes) == 1 {
		text(fScope, e.Scopes[0])
	} else if len(e.Scopes) > 1 {
		put(fScopes, strs(e.Scopes))
	}
	text(fAssignment, e.Assignment)
	text(fRecommend, e.Recommendation)
	text(idOrName(e.PolicyDefinitionID, fDefID, fDefName), e.PolicyDefinitionID)
	text(idOrName(e.PolicySetDefinitionID, fSetID, fSetName), e.PolicySetDefinitionID)
	if len(e.ReferenceIDs) > 0 {
		put(fRefs, strs(e.ReferenceIDs))
	}
	if !e.ExpiresOn.IsZero() {
		// Untagged, so that it is written plain: 2027-01-31T00:00:00Z.
		put(fExpiresOn, &yaml.Node{Kind: yaml.ScalarNode, Value: e.ExpiresOn.UTC().Format(time.RFC3339Nano)})
	}
	text(fOwner, e.Owner)
	text(fTicket, e.Ticket)
	if e.Metadata != nil {
		n, err := metadataNode(e.Metadata)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		put(fMetadata, n)
	}
	for _, f := range []struct {
		key string
		raw json.RawMessage
	}{{fSelectors, e.ResourceSelectors}, {fFilter, e.ResourceFilter}} {
		if len(f.raw) > 0 {
			n, err := jsonNode(f.raw)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.key, err)
			}
			put(f.key, n)
		}
	}
	text(fValidation, e.AssignmentScopeValidation)
	if len(e.History) > 0 {
		n, err := jsonNode(e.History)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		put(fHistory, n)
	}
	return m, nil
}

func idOrName(s, id, name string) string {
	if strings.HasPrefix(s, "/") {
		return id
	}
	return name
}

// metadataNode renders metadata with sorted keys (encoding/json sorts map
// keys); json.Number values keep their spelling.
func metadataNode(m map[string]any) (*yaml.Node, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonNode(raw)
}

// str is a string scalar. The encoder quotes it when it would otherwise
// read back as something else (42, true, 2027-01-31, null).
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if isJSONNumber(s) {
		// YAML reads a plain 1e400 as a string, the reader as a number.
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func strs(list []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range list {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// jsonNode converts JSON to block-style YAML nodes, keeping key order.
func jsonNode(raw []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: more than one value")
	}
	return n, nil
}

// maxDepth bounds the nesting of JSON that Write converts, as the YAML
// parser bounds what Parse reads.
const maxDepth = 10000

func jsonValue(dec *json.Decoder, depth int) (*yaml.Node, error) {
	if depth > maxDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if t == '{' {
			n.Kind = yaml.MappingNode
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %w", err)
				}
				key, _ := k.(string)
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key})
			}
			v, err := jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		return n, nil
	case string:
		return str(t), nil
	case json.Number:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}, nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
}

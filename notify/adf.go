package notify

import "strings"

// adfNode is a node of the Atlassian Document Format, which Jira Cloud's REST
// API v3 requires for issue descriptions and comment bodies
// (developer.atlassian.com/cloud/jira/platform/apis/document/structure):
// a root "doc" with "version": 1 holding block nodes (paragraph,
// bulletList > listItem > paragraph) that hold inline nodes (text with
// "strong" or "link" marks, hardBreak). Text nodes must not be empty.
type adfNode struct {
	Type    string    `json:"type"`
	Version int       `json:"version,omitempty"` // the root only
	Content []adfNode `json:"content,omitempty"`
	Text    string    `json:"text,omitempty"`
	Marks   []adfMark `json:"marks,omitempty"`
}

type adfMark struct {
	Type  string            `json:"type"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

func adfText(s string, marks ...adfMark) []adfNode {
	if s == "" {
		return nil
	}
	return []adfNode{{Type: "text", Text: s, Marks: marks}}
}

// adfLines turns text with newlines into text nodes separated by hardBreak.
func adfLines(s string, marks ...adfMark) []adfNode {
	var out []adfNode
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			out = append(out, adfNode{Type: "hardBreak"})
		}
		out = append(out, adfText(line, marks...)...)
	}
	return out
}

func adfLink(href string) adfMark {
	return adfMark{Type: "link", Attrs: map[string]string{"href": href}}
}

var adfStrong = adfMark{Type: "strong"}

// adfDocument renders content as an ADF document: the intro, the facts as a
// bullet list, and the links.
func adfDocument(c content) adfNode {
	doc := adfNode{Type: "doc", Version: 1}
	doc.Content = append(doc.Content, adfNode{Type: "paragraph", Content: adfText(c.Intro)})
	if len(c.Facts) > 0 {
		list := adfNode{Type: "bulletList"}
		for _, f := range c.Facts {
			inline := adfText(f.Label+": ", adfStrong)
			if f.URL != "" {
				inline = append(inline, adfText(f.Value, adfLink(f.URL))...)
			} else {
				inline = append(inline, adfLines(f.Value)...)
			}
			list.Content = append(list.Content, adfNode{Type: "listItem", Content: []adfNode{{Type: "paragraph", Content: inline}}})
		}
		doc.Content = append(doc.Content, list)
	}
	if len(c.Actions) > 0 {
		p := adfNode{Type: "paragraph"}
		for i, a := range c.Actions {
			if i > 0 {
				p.Content = append(p.Content, adfText(" · ")...)
			}
			p.Content = append(p.Content, adfText(a.Title, adfLink(a.URL))...)
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

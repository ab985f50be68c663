package automation

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/posture/posture"
)

// The document follows the field order of Azure's GET examples
// (GetAutomationResourceGroup_example.json, both versions): id, name,
// type, etag, location, tags, properties; inside properties description,
// isEnabled, scopes, sources, actions; a LogicApp action as
// logicAppResourceId then actionType. kind, which no example shows, follows
// location. encoding/json writes struct fields in order, so the structs
// below are the layout.
type document struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type"`
	ETag       string            `json:"etag,omitempty"`
	Location   string            `json:"location,omitempty"`
	Kind       string            `json:"kind,omitempty"`
	Tags       map[string]string `json:"tags"`
	Properties properties        `json:"properties"`
}

type properties struct {
	Description string      `json:"description,omitempty"`
	IsEnabled   bool        `json:"isEnabled"`
	Scopes      []scopeDoc  `json:"scopes"`
	Sources     []sourceDoc `json:"sources"`
	Actions     []actionDoc `json:"actions"`
}

type scopeDoc struct {
	Description string `json:"description,omitempty"`
	ScopePath   string `json:"scopePath"`
}

type sourceDoc struct {
	EventSource string       `json:"eventSource"`
	RuleSets    []ruleSetDoc `json:"ruleSets"`
}

type ruleSetDoc struct {
	Rules []ruleDoc `json:"rules"`
}

type ruleDoc struct {
	PropertyJPath string `json:"propertyJPath"`
	PropertyType  string `json:"propertyType"`
	ExpectedValue string `json:"expectedValue"`
	Operator      string `json:"operator"`
}

type actionDoc struct {
	LogicAppResourceID      string `json:"logicAppResourceId,omitempty"`
	URI                     string `json:"uri,omitempty"`
	EventHubResourceID      string `json:"eventHubResourceId,omitempty"`
	SASPolicyName           string `json:"sasPolicyName,omitempty"`
	ConnectionString        string `json:"connectionString,omitempty"`
	IsTrustedServiceEnabled *bool  `json:"isTrustedServiceEnabled,omitempty"`
	WorkspaceResourceID     string `json:"workspaceResourceId,omitempty"`
	ActionType              string `json:"actionType"`
}

// Document renders the ARM JSON of an automation for an api-version, as GET,
// PUT, PATCH and list answer it. The write-only uri (LogicApp) and
// connectionString (EventHub) are never rendered, as the spec says ("it
// will not be included in any response"); the read-only sasPolicyName is,
// when the connection string named one. isTrustedServiceEnabled appears
// from 2023-12-01-preview, when set. tags is always an object and every
// array is present ([] when empty), as in Azure's examples (a source
// without rule sets answers "ruleSets": []). etag and location are omitted
// when empty. Event sources are rendered as stored, also in a version whose
// enum lacks them. The output is compact, without HTML escaping, and the
// same for the same input.
func Document(id, name string, a *Automation, etag string, apiVersion string) []byte {
	return render(id, name, a, etag, apiVersion, false)
}

// StoredDocument renders a for storage: the StoredVersion document with the
// write-only values kept. It is not for clients. FromStored reads it back.
func StoredDocument(a *Automation) []byte {
	return render("", "", a, "", StoredVersion, true)
}

// FromStored reads back a document written by StoredDocument. A document
// that does not read back is corrupt storage, so the error is EINTERNAL
// (its cause kept for logs).
func FromStored(doc []byte) (*Automation, error) {
	a, err := Parse(doc, StoredVersion)
	if err != nil {
		return nil, &posture.Error{Kind: posture.EINTERNAL, Code: "InternalServerError",
			Message: "The server encountered an internal error. Please retry the request.",
			Err:     fmt.Errorf("automation: stored document does not read back: %w", err)}
	}
	return a, nil
}

func render(id, name string, a *Automation, etag, apiVersion string, secrets bool) []byte {
	doc := document{
		ID: id, Name: name, Type: Type, ETag: etag,
		Location: a.Location, Kind: a.Kind, Tags: a.Tags,
		Properties: properties{
			Description: a.Description,
			IsEnabled:   a.IsEnabled,
			Scopes:      make([]scopeDoc, 0, len(a.Scopes)),
			Sources:     make([]sourceDoc, 0, len(a.Sources)),
			Actions:     make([]actionDoc, 0, len(a.Actions)),
		},
	}
	if doc.Tags == nil {
		doc.Tags = map[string]string{}
	}
	for _, s := range a.Scopes {
		doc.Properties.Scopes = append(doc.Properties.Scopes, scopeDoc(s))
	}
	for _, s := range a.Sources {
		sd := sourceDoc{EventSource: s.EventSource, RuleSets: make([]ruleSetDoc, 0, len(s.RuleSets))}
		for _, set := range s.RuleSets {
			rs := ruleSetDoc{Rules: make([]ruleDoc, 0, len(set.Rules))}
			for _, r := range set.Rules {
				rs.Rules = append(rs.Rules, ruleDoc(r))
			}
			sd.RuleSets = append(sd.RuleSets, rs)
		}
		doc.Properties.Sources = append(doc.Properties.Sources, sd)
	}
	for _, ac := range a.Actions {
		ad := actionDoc{ActionType: ac.ActionType}
		switch ac.ActionType {
		case LogicApp:
			ad.LogicAppResourceID = ac.LogicAppResourceID
			if secrets {
				ad.URI = ac.URI
			}
		case EventHub:
			ad.EventHubResourceID = ac.EventHubResourceID
			ad.SASPolicyName = ac.SASPolicyName
			if secrets {
				ad.ConnectionString = ac.ConnectionString
			}
			if apiVersion == V2023 {
				ad.IsTrustedServiceEnabled = ac.IsTrustedServiceEnabled
			}
		case Workspace:
			ad.WorkspaceResourceID = ac.WorkspaceResourceID
		}
		doc.Properties.Actions = append(doc.Properties.Actions, ad)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Azure writes JSON
	if err := enc.Encode(doc); err != nil {
		panic(fmt.Sprintf("automation: document of %s: %v", id, err)) // only strings, bools and maps of strings
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// maxNameLen and the name alphabet come from the ARM template reference of
// Microsoft.Security/automations: 1–260 characters, alphanumerics,
// underscores and hyphens.
const maxNameLen = 260

// ValidateName checks the automation name segment of the id.
func ValidateName(name string) error {
	bad := name == "" || len(name) > maxNameLen
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			bad = true
		}
	}
	if bad {
		return posture.Errorf(posture.EINVALID, codeName,
			"The automation name '%s' is invalid: it must have 1 to %d characters, each a letter, digit, underscore or hyphen.",
			clip(name), maxNameLen).WithTarget("name")
	}
	return nil
}

// The raw* structs hold each property undecoded, so that a property of the
// wrong JSON type is reported with its own target. encoding/json matches
// names case-insensitively, as ARM does (the built-in continuous export
// policies send "propertyjpath", "actiontype"… in lower case).
type rawResource struct {
	Location   json.RawMessage `json:"location"`
	Kind       json.RawMessage `json:"kind"`
	Tags       json.RawMessage `json:"tags"`
	Properties json.RawMessage `json:"properties"`
}

type rawProps struct {
	Description json.RawMessage `json:"description"`
	IsEnabled   json.RawMessage `json:"isEnabled"`
	Scopes      json.RawMessage `json:"scopes"`
	Sources     json.RawMessage `json:"sources"`
	Actions     json.RawMessage `json:"actions"`
}

type rawScope struct {
	Description json.RawMessage `json:"description"`
	ScopePath   json.RawMessage `json:"scopePath"`
}

type rawSource struct {
	EventSource json.RawMessage `json:"eventSource"`
	RuleSets    json.RawMessage `json:"ruleSets"`
}

type rawRuleSet struct {
	Rules json.RawMessage `json:"rules"`
}

type rawRule struct {
	PropertyJPath json.RawMessage `json:"propertyJPath"`
	PropertyType  json.RawMessage `json:"propertyType"`
	ExpectedValue json.RawMessage `json:"expectedValue"`
	Operator      json.RawMessage `json:"operator"`
}

type rawAction struct {
	ActionType              json.RawMessage `json:"actionType"`
	LogicAppResourceID      json.RawMessage `json:"logicAppResourceId"`
	URI                     json.RawMessage `json:"uri"`
	EventHubResourceID      json.RawMessage `json:"eventHubResourceId"`
	ConnectionString        json.RawMessage `json:"connectionString"`
	IsTrustedServiceEnabled json.RawMessage `json:"isTrustedServiceEnabled"`
	WorkspaceResourceID     json.RawMessage `json:"workspaceResourceId"`
}

// Parse reads and validates a PUT (or validate) body for an api-version.
// Unknown fields, read-only fields (id, name, type, etag, sasPolicyName)
// and fields of later api-versions are ignored, as ARM does. All properties
// are optional in the spec; posture requires what it needs to evaluate an
// automation (a scope's scopePath, a source's eventSource, a rule's
// propertyJPath, propertyType and operator, an action's actionType). Enum
// values are read case-insensitively and stored in the spec's spelling; a
// value outside the api-version's enum is an error. Every problem is
// reported (see problems.err). Whether the scopes lie in the automation's
// subscription is CheckScopes' question.
func Parse(body []byte, apiVersion string) (*Automation, error) {
	if !SupportsVersion(apiVersion) {
		return nil, versionError(apiVersion)
	}
	var p problems
	var res rawResource
	if !readObject(&p, body, &res) {
		return nil, p.err()
	}
	a := &Automation{
		Location: optString(&p, res.Location, "location"),
		Kind:     optString(&p, res.Kind, "kind"),
		Tags:     tags(&p, res.Tags),
	}
	var props rawProps
	if present(res.Properties) && decodeObject(&p, res.Properties, "properties", &props) {
		a.Description = optString(&p, props.Description, "properties.description")
		a.IsEnabled = optBool(&p, props.IsEnabled, "properties.isEnabled")
		a.Scopes = scopes(&p, props.Scopes)
		a.Sources = sources(&p, props.Sources, apiVersion)
		a.Actions = actions(&p, props.Actions, apiVersion)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return a, nil
}

// ApplyPatch applies a 2023-12-01-preview PATCH body (AutomationUpdateModel:
// {tags?, properties?}). A property present in the body replaces the
// stored one whole (arrays are not merged); an absent one stays; null
// resets it to its zero value, as in JSON merge patch ("properties": null
// changes nothing: it would wipe the automation). Azure's PATCH example
// leaves out isEnabled and answers with the stored true. location, kind and
// etag are not in the update model and are ignored. Replaced actions keep
// the write-only uri or connection string of the stored action they name
// (KeepSecrets), so that a client can PATCH back what it read. On error a is
// unchanged.
func (a *Automation) ApplyPatch(body []byte, apiVersion string) error {
	if !SupportsPatch(apiVersion) {
		if !SupportsVersion(apiVersion) {
			return versionError(apiVersion)
		}
		return posture.Errorf(posture.EINVALID, codeAPIVersion,
			"PATCH of a security automation needs api-version %s; '%s' has no PATCH (use PUT).", V2023, clip(apiVersion))
	}
	var p problems
	var top struct {
		Tags       json.RawMessage `json:"tags"`
		Properties json.RawMessage `json:"properties"`
	}
	if !readObject(&p, body, &top) {
		return p.err()
	}
	next := *a
	if top.Tags != nil {
		next.Tags = tags(&p, top.Tags)
	}
	var props rawProps
	if present(top.Properties) && decodeObject(&p, top.Properties, "properties", &props) {
		if props.Description != nil {
			next.Description = optString(&p, props.Description, "properties.description")
		}
		if props.IsEnabled != nil {
			next.IsEnabled = optBool(&p, props.IsEnabled, "properties.isEnabled")
		}
		if props.Scopes != nil {
			next.Scopes = scopes(&p, props.Scopes)
		}
		if props.Sources != nil {
			next.Sources = sources(&p, props.Sources, apiVersion)
		}
		if props.Actions != nil {
			next.Actions = actions(&p, props.Actions, apiVersion)
			next.KeepSecrets(a)
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	*a = next
	return nil
}

// KeepSecrets copies write-only values from prev into a's actions that lack
// them: a LogicApp action without uri takes the uri of prev's LogicApp
// action with the same logicAppResourceId, an EventHub action without
// connectionString the connection string (and SAS policy name) of prev's
// EventHub action with the same eventHubResourceId (ids compared ignoring
// case). GET never returns these values, so a client that reads, edits and
// writes back an automation would otherwise erase them. The service may
// call it on PUT too; ApplyPatch does.
func (a *Automation) KeepSecrets(prev *Automation) {
	if prev == nil {
		return
	}
	for i := range a.Actions {
		ac := &a.Actions[i]
		for _, old := range prev.Actions {
			if old.ActionType != ac.ActionType {
				continue
			}
			switch ac.ActionType {
			case LogicApp:
				if ac.URI == "" && ac.LogicAppResourceID != "" && strings.EqualFold(ac.LogicAppResourceID, old.LogicAppResourceID) {
					ac.URI = old.URI
				}
			case EventHub:
				if ac.ConnectionString == "" && ac.EventHubResourceID != "" && strings.EqualFold(ac.EventHubResourceID, old.EventHubResourceID) {
					ac.ConnectionString, ac.SASPolicyName = old.ConnectionString, old.SASPolicyName
				}
			}
		}
	}
}

func versionError(apiVersion string) error {
	latest := slices.Clone(Versions)
	slices.Reverse(latest)
	return posture.Errorf(posture.EINVALID, codeAPIVersion,
		"The api-version '%s' is invalid for %s. The supported versions are '%s'.",
		clip(apiVersion), Type, strings.Join(latest, ","))
}

// readObject decodes a body that must be a JSON object.
func readObject(p *problems, body []byte, dst any) bool {
	// JSON text is UTF-8 (RFC 8259 §8.1); other bytes would be replaced
	// silently by the decoder and stored changed.
	if !utf8.Valid(body) {
		p.add(codeContent, "", "The request content is not valid UTF-8.")
		return false
	}
	if !isObject(body) {
		p.add(codeContent, "", "The request content must be a JSON object.")
		return false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		p.add(codeContent, "", "The request content is not a valid JSON object: %s.", jsonProblem(err))
		return false
	}
	return true
}

// decodeObject decodes raw, which must be a JSON object, into dst.
func decodeObject(p *problems, raw json.RawMessage, target string, dst any) bool {
	if !isObject(raw) || json.Unmarshal(raw, dst) != nil {
		p.add(codeContent, target, "The property '%s' must be a JSON object.", target)
		return false
	}
	return true
}

func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// present reports whether a property was given with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func missing(p *problems, target string) {
	p.add(codeMissing, target, "The property '%s' is required.", target)
}

// optString decodes an optional string property; absent or null is "".
func optString(p *problems, raw json.RawMessage, target string) string {
	if !present(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(codeContent, target, "The property '%s' must be a string.", target)
		return ""
	}
	return s
}

// reqString decodes a required string property; ok is false (and a problem
// added) when it is absent, null, empty or not a string.
func reqString(p *problems, raw json.RawMessage, target string) (string, bool) {
	if !present(raw) {
		missing(p, target)
		return "", false
	}
	n := len(*p)
	s := optString(p, raw, target)
	if len(*p) > n {
		return "", false
	}
	if s == "" {
		missing(p, target)
		return "", false
	}
	return s, true
}

func optBool(p *problems, raw json.RawMessage, target string) bool {
	if !present(raw) {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		p.add(codeContent, target, "The property '%s' must be true or false.", target)
	}
	return b
}

// array decodes an optional JSON array into its elements; absent or null
// is nil.
func array(p *problems, raw json.RawMessage, target string) []json.RawMessage {
	if !present(raw) {
		return nil
	}
	var items []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		p.add(codeContent, target, "The property '%s' must be an array.", target)
		return nil
	}
	return items
}

// enum reads a required string enum case-insensitively and returns its
// canonical spelling, or "" after adding a problem.
func enum(p *problems, raw json.RawMessage, target, code, what, context string, values []string) string {
	s, ok := reqString(p, raw, target)
	if !ok {
		return ""
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	p.add(code, target, "The %s '%s' is not valid%s; use one of %s.", what, clip(s), context, strings.Join(values, ", "))
	return ""
}

func tags(p *problems, raw json.RawMessage) map[string]string {
	if !present(raw) {
		return nil
	}
	var t map[string]string
	if raw[0] != '{' || json.Unmarshal(raw, &t) != nil {
		p.add(codeContent, "tags", "The property 'tags' must be an object whose values are strings.")
		return nil
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

func scopes(p *problems, raw json.RawMessage) []Scope {
	var out []Scope
	for i, item := range array(p, raw, "properties.scopes") {
		target := fmt.Sprintf("properties.scopes[%d]", i)
		var r rawScope
		if !decodeObject(p, item, target, &r) {
			continue
		}
		s := Scope{Description: optString(p, r.Description, target+".description")}
		if path, ok := reqString(p, r.ScopePath, target+".scopePath"); ok {
			s.ScopePath = path
			if _, err := scopeID(path); err != nil {
				p.add(codeScopePath, target+".scopePath",
					"The scope path '%s' is not the id of a subscription or resource group (/subscriptions/{id} or /subscriptions/{id}/resourceGroups/{name}).", clip(path))
			}
		}
		out = append(out, s)
	}
	return out
}

// scopeID parses a scope path: the id of a subscription or of a resource
// group.
func scopeID(path string) (armid.ID, error) {
	id, err := armid.Parse(path)
	if err != nil {
		return id, err
	}
	if !strings.HasPrefix(path, "/") || (id.Kind() != armid.Subscription && id.Kind() != armid.ResourceGroup) {
		return id, fmt.Errorf("%s is a %s", path, id.Kind())
	}
	return id, nil
}

func sources(p *problems, raw json.RawMessage, apiVersion string) []Source {
	var out []Source
	allowed := EventSources(apiVersion)
	for i, item := range array(p, raw, "properties.sources") {
		target := fmt.Sprintf("properties.sources[%d]", i)
		var r rawSource
		if !decodeObject(p, item, target, &r) {
			continue
		}
		s := Source{EventSource: enum(p, r.EventSource, target+".eventSource", codeEventSource,
			"event source", " in api-version "+apiVersion, allowed)}
		for j, rs := range array(p, r.RuleSets, target+".ruleSets") {
			rsTarget := fmt.Sprintf("%s.ruleSets[%d]", target, j)
			var set rawRuleSet
			if !decodeObject(p, rs, rsTarget, &set) {
				continue
			}
			var rules []Rule
			for k, rr := range array(p, set.Rules, rsTarget+".rules") {
				if rule, ok := readRule(p, rr, fmt.Sprintf("%s.rules[%d]", rsTarget, k)); ok {
					rules = append(rules, rule)
				}
			}
			s.RuleSets = append(s.RuleSets, RuleSet{Rules: rules})
		}
		out = append(out, s)
	}
	return out
}

// readRule reads a rule. expectedValue may be absent (an empty string):
// Azure's continuous export policies send null there.
func readRule(p *problems, raw json.RawMessage, target string) (Rule, bool) {
	var r rawRule
	if !decodeObject(p, raw, target, &r) {
		return Rule{}, false
	}
	n := len(*p)
	rule := Rule{ExpectedValue: optString(p, r.ExpectedValue, target+".expectedValue")}
	rule.PropertyJPath, _ = reqString(p, r.PropertyJPath, target+".propertyJPath")
	rule.PropertyType = enum(p, r.PropertyType, target+".propertyType", codePropType, "property type", "", propertyTypes)
	rule.Operator = enum(p, r.Operator, target+".operator", codeOperator, "operator", "", operators)
	return rule, len(*p) == n
}

func actions(p *problems, raw json.RawMessage, apiVersion string) []Action {
	var out []Action
	for i, item := range array(p, raw, "properties.actions") {
		target := fmt.Sprintf("properties.actions[%d]", i)
		var r rawAction
		if !decodeObject(p, item, target, &r) {
			continue
		}
		ac := Action{ActionType: enum(p, r.ActionType, target+".actionType", codeActionType, "action type", "", actionTypes)}
		switch ac.ActionType {
		case LogicApp:
			ac.LogicAppResourceID = optString(p, r.LogicAppResourceID, target+".logicAppResourceId")
			ac.URI = optString(p, r.URI, target+".uri")
			if ac.URI != "" {
				// The spec gives uri the format "uri": an absolute URL.
				if u, err := url.Parse(ac.URI); err != nil || !u.IsAbs() || u.Host == "" {
					p.add(codeURI, target+".uri", "The Logic App trigger uri is not an absolute URL.")
				}
			}
		case EventHub:
			ac.EventHubResourceID = optString(p, r.EventHubResourceID, target+".eventHubResourceId")
			ac.ConnectionString = optString(p, r.ConnectionString, target+".connectionString")
			ac.SASPolicyName = sasPolicyName(ac.ConnectionString)
			if apiVersion == V2023 && present(r.IsTrustedServiceEnabled) {
				b := optBool(p, r.IsTrustedServiceEnabled, target+".isTrustedServiceEnabled")
				ac.IsTrustedServiceEnabled = &b
			}
		case Workspace:
			ac.WorkspaceResourceID = optString(p, r.WorkspaceResourceID, target+".workspaceResourceId")
		default:
			continue // the enum problem is reported
		}
		out = append(out, ac)
	}
	return out
}

// jsonProblem describes a decoding error. Only syntax errors reach it: the
// raw structs take any JSON value.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return err.Error()
}

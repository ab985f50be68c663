package automation

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/posture/posture/armid"
)

// validationOK is the message of a valid automation, as Azure's
// ValidateAutomation example answers.
const validationOK = "Validation Successful"

// CheckScopes returns an EINVALID error (ScopeOutsideSubscription, target
// the scope path) for every scope that is not the subscription of the
// automation or one of its resource groups (the spec: "Can be the
// subscription on which the automation is defined on or a resource group
// under that subscription"). Parse has already checked that scope paths are
// subscription or resource group ids. The service calls it on PUT and PATCH
// with the subscription of the automation's id.
func (a *Automation) CheckScopes(subscriptionID string) error {
	var p problems
	for i, s := range a.Scopes {
		target := fmt.Sprintf("properties.scopes[%d].scopePath", i)
		id, err := scopeID(s.ScopePath)
		if err != nil {
			p.add(codeScopePath, target, "The scope path '%s' is not the id of a subscription or resource group.", clip(s.ScopePath))
			continue
		}
		if !strings.EqualFold(id.SubscriptionID(), subscriptionID) {
			p.add(codeScope, target, "The scope '%s' is outside the automation's subscription '%s': a scope must be that subscription or one of its resource groups.",
				clip(s.ScopePath), clip(subscriptionID))
		}
	}
	return p.err()
}

// Validate answers POST …/automations/{name}/validate for an automation in
// subscriptionID. IsValid is false when posture could not run the
// automation as written: no scopes, sources or actions; a scope outside
// the subscription; a rule that is not well-formed (Rule.Check); a LogicApp
// action without an https uri; an EventHub action without a usable
// connection string; an action resource id of the wrong type. Things that
// are valid in Azure but do nothing in posture are notes that leave IsValid
// true: event sources posture never emits, Workspace actions ("Workspace
// (Log Analytics) export is not supported by posture"), Event Hubs
// connection strings, a disabled automation. The message is Azure's
// "Validation Successful" when there is nothing to say.
func (a *Automation) Validate(subscriptionID string) ValidationResult {
	var bad, notes []string
	if len(a.Scopes) == 0 {
		bad = append(bad, "The automation has no scopes, so it applies nowhere.")
	}
	if err := a.CheckScopes(subscriptionID); err != nil {
		for _, e := range details(err) {
			bad = append(bad, e.Target+": "+e.Message)
		}
	}
	if len(a.Sources) == 0 {
		bad = append(bad, "The automation has no sources, so no event triggers it.")
	}
	var silent []string
	for i, src := range a.Sources {
		if !slices.Contains(Emitted, src.EventSource) && !slices.Contains(silent, src.EventSource) {
			silent = append(silent, src.EventSource)
		}
		for j, set := range src.RuleSets {
			for k, r := range set.Rules {
				if msg := r.Check(); msg != "" {
					bad = append(bad, fmt.Sprintf("properties.sources[%d].ruleSets[%d].rules[%d]: the %s.", i, j, k, msg))
				}
			}
		}
	}
	if len(silent) > 0 {
		notes = append(notes, fmt.Sprintf("posture never raises events of %s (it emits %s): such sources are stored but never trigger the automation.",
			strings.Join(silent, ", "), strings.Join(Emitted, ", ")))
	}
	if len(a.Actions) == 0 {
		bad = append(bad, "The automation has no actions.")
	}
	for i, ac := range a.Actions {
		prefix := fmt.Sprintf("properties.actions[%d]: ", i)
		problem, note := ac.check()
		if problem != "" {
			bad = append(bad, prefix+problem)
		}
		if note != "" {
			notes = append(notes, prefix+note)
		}
	}
	if !a.IsEnabled {
		notes = append(notes, "The automation is disabled (isEnabled is false), so it never runs.")
	}
	switch {
	case len(bad) > 0:
		return ValidationResult{Message: strings.Join(append(append([]string{"Validation failed."}, bad...), notes...), " ")}
	case len(notes) > 0:
		return ValidationResult{IsValid: true, Message: strings.Join(append([]string{validationOK + "."}, notes...), " ")}
	}
	return ValidationResult{IsValid: true, Message: validationOK}
}

// check returns what makes an action unusable, and what makes it do
// nothing in posture.
func (ac Action) check() (problem, note string) {
	switch ac.ActionType {
	case LogicApp:
		switch {
		case !resourceOfType(ac.LogicAppResourceID, "Microsoft.Logic/workflows"):
			return fmt.Sprintf("logicAppResourceId '%s' is not the id of a Logic App (Microsoft.Logic/workflows).", clip(ac.LogicAppResourceID)), ""
		case ac.URI == "":
			return "the LogicApp action has no uri: posture needs the Logic App trigger URL to call it.", ""
		case !deliverableURL(ac.URI):
			return "the Logic App trigger uri must be an https URL (plain http only to a loopback host).", ""
		}
	case EventHub:
		endpoint := eventHubEndpoint(ac.ConnectionString)
		switch {
		case !resourceOfType(ac.EventHubResourceID, "Microsoft.EventHub/namespaces/eventhubs"):
			return fmt.Sprintf("eventHubResourceId '%s' is not the id of an event hub (Microsoft.EventHub/namespaces/eventhubs).", clip(ac.EventHubResourceID)), ""
		case ac.ConnectionString == "":
			return "the EventHub action has no connectionString.", ""
		case deliverableURL(endpoint):
		case isScheme(endpoint, "sb"):
			return "", "sending to Azure Event Hubs (Endpoint=sb://…, over AMQP) is not supported by posture: the action is stored but does nothing. Give an https endpoint (Endpoint=https://…) to have posture POST the events there."
		default:
			return "the connection string's endpoint must be an https URL (Endpoint=https://… or a plain https URL; plain http only to a loopback host).", ""
		}
	case Workspace:
		if !resourceOfType(ac.WorkspaceResourceID, "Microsoft.OperationalInsights/workspaces") {
			return fmt.Sprintf("workspaceResourceId '%s' is not the id of a Log Analytics workspace (Microsoft.OperationalInsights/workspaces).", clip(ac.WorkspaceResourceID)), ""
		}
		return "", "Workspace (Log Analytics) export is not supported by posture: the action is stored but does nothing."
	}
	return "", ""
}

// resourceOfType reports whether id is empty (the spec does not require
// it) or the id of a resource of type typ.
func resourceOfType(id, typ string) bool {
	if id == "" {
		return true
	}
	parsed, err := armid.Parse(id)
	return err == nil && parsed.Kind() == armid.Resource && strings.EqualFold(parsed.Type(), typ)
}

func isScheme(s, scheme string) bool {
	u, err := url.Parse(s)
	return err == nil && strings.EqualFold(u.Scheme, scheme) && u.Host != ""
}

// Package automation holds the workflow automation resource of Defender for
// Cloud (Microsoft.Security/automations, also used for continuous export):
// reading and validating request bodies per api-version, rendering the ARM
// document, the validate action, deciding whether an event triggers an
// automation, and which of its actions posture can deliver.
//
// The package is pure: no HTTP, no store. The service that stores
// automations calls Parse or ApplyPatch on writes, CheckScopes with the
// subscription of the automation's id, Document on reads, and Matches and
// Deliverable when an event happens.
//
// What posture delivers:
//
//   - LogicApp actions: an HTTP POST of the event to the action's uri (the
//     Logic App trigger callback URL). The uri must be https; plain http is
//     accepted for loopback hosts only, for tests.
//   - EventHub actions: an HTTP POST of the event to an HTTPS endpoint given
//     as the connection string, either "Endpoint=https://host/path;…" or a
//     plain https URL. A real Event Hubs connection string
//     ("Endpoint=sb://…servicebus.windows.net/;SharedAccessKeyName=…") is
//     accepted and stored but not delivered: posture does not speak the Event
//     Hubs protocols (AMQP).
//   - Workspace actions are accepted and stored but do nothing: Workspace
//     (Log Analytics) export is not supported by posture.
//
// posture emits events for three sources only: Assessments, SecureScores
// and SecureScoreControls. The other event sources of Azure's enums are
// accepted and stored, and never fire; Validate says so.
//
// Sources for every Azure rule are listed in SOURCE.md.
package automation

import "slices"

// Type is the ARM resource type of an automation.
const Type = "Microsoft.Security/automations"

// api-versions of Microsoft.Security/automations. Only these two have an
// automations.json in the published specs (see SOURCE.md: a stable
// 2020-01-01 file appears in one commit of the specs' history but in no
// readme tag, generated type library, SDK or Learn page, so it is not
// served).
const (
	V2019 = "2019-01-01-preview"
	V2023 = "2023-12-01-preview" // adds PATCH, EventHub isTrustedServiceEnabled, AttackPaths sources
)

// Versions are the api-versions posture serves for automations, oldest
// first.
var Versions = []string{V2019, V2023}

// StoredVersion is the api-version of the documents StoredDocument writes:
// the latest, so that no property is lost.
const StoredVersion = V2023

// SupportsVersion reports whether apiVersion is one of Versions.
func SupportsVersion(apiVersion string) bool { return slices.Contains(Versions, apiVersion) }

// SupportsPatch reports whether apiVersion has the PATCH operation
// (Automations_Update): only 2023-12-01-preview does.
func SupportsPatch(apiVersion string) bool { return apiVersion == V2023 }

// Event sources (AutomationSource.eventSource).
const (
	Assessments                            = "Assessments"
	AssessmentsSnapshot                    = "AssessmentsSnapshot"
	SubAssessments                         = "SubAssessments"
	SubAssessmentsSnapshot                 = "SubAssessmentsSnapshot"
	Alerts                                 = "Alerts"
	SecureScores                           = "SecureScores"
	SecureScoresSnapshot                   = "SecureScoresSnapshot"
	SecureScoreControls                    = "SecureScoreControls"
	SecureScoreControlsSnapshot            = "SecureScoreControlsSnapshot"
	RegulatoryComplianceAssessment         = "RegulatoryComplianceAssessment"
	RegulatoryComplianceAssessmentSnapshot = "RegulatoryComplianceAssessmentSnapshot"
	AttackPaths                            = "AttackPaths"
	AttackPathsSnapshot                    = "AttackPathsSnapshot"
)

// eventSources2019 is the eventSource enum of the newest
// 2019-01-01-preview automations.json (11 values; the file started with
// Assessments and Alerts and grew). 2023-12-01-preview adds the two
// AttackPaths sources.
var (
	eventSources2019 = []string{
		Assessments, AssessmentsSnapshot, SubAssessments, SubAssessmentsSnapshot, Alerts,
		SecureScores, SecureScoresSnapshot, SecureScoreControls, SecureScoreControlsSnapshot,
		RegulatoryComplianceAssessment, RegulatoryComplianceAssessmentSnapshot,
	}
	eventSources2023 = append(slices.Clone(eventSources2019), AttackPaths, AttackPathsSnapshot)
)

// EventSources returns the eventSource values apiVersion accepts, in the
// spec's order; nil for a version posture does not serve.
func EventSources(apiVersion string) []string {
	switch apiVersion {
	case V2019:
		return slices.Clone(eventSources2019)
	case V2023:
		return slices.Clone(eventSources2023)
	}
	return nil
}

// Emitted are the event sources posture raises events for. Automations on
// other sources are stored but never triggered.
var Emitted = []string{Assessments, SecureScores, SecureScoreControls}

// Property types of a rule (AutomationTriggeringRule.propertyType); the same
// in every version.
const (
	TypeString  = "String"
	TypeInteger = "Integer"
	TypeNumber  = "Number"
	TypeBoolean = "Boolean"
)

var propertyTypes = []string{TypeString, TypeInteger, TypeNumber, TypeBoolean}

// Operators of a rule; the same in every version. The 2023-12-01-preview
// spec says which operand kinds each applies to: Equals and NotEquals to
// all, the ordering operators to decimal operands only, Contains,
// StartsWith and EndsWith to non-decimal operands only.
const (
	Equals               = "Equals"
	NotEquals            = "NotEquals"
	GreaterThan          = "GreaterThan"
	GreaterThanOrEqualTo = "GreaterThanOrEqualTo"
	LesserThan           = "LesserThan"
	LesserThanOrEqualTo  = "LesserThanOrEqualTo"
	Contains             = "Contains"
	StartsWith           = "StartsWith"
	EndsWith             = "EndsWith"
)

var operators = []string{Equals, GreaterThan, GreaterThanOrEqualTo, LesserThan, LesserThanOrEqualTo, NotEquals, Contains, StartsWith, EndsWith}

// Action types (AutomationAction.actionType, the discriminator).
const (
	LogicApp  = "LogicApp"
	EventHub  = "EventHub"
	Workspace = "Workspace"
)

var actionTypes = []string{LogicApp, EventHub, Workspace}

// Automation is a workflow automation, validated and canonical: enum values
// are spelled as the spec spells them, whatever case the client used.
type Automation struct {
	Location string
	Kind     string
	Tags     map[string]string // nil when none

	Description string
	IsEnabled   bool // false when the body omits it
	Scopes      []Scope
	Sources     []Source
	Actions     []Action
}

// Scope is a subscription or resource group the automation applies to.
type Scope struct {
	Description string
	ScopePath   string // an ARM id, as the client wrote it
}

// Source is an event source and the rule sets that filter its events. No
// rule sets: every event of the source.
type Source struct {
	EventSource string
	RuleSets    []RuleSet
}

// RuleSet holds rules that must all hold; the sets of a source are ORed.
type RuleSet struct {
	Rules []Rule
}

// Rule compares the value at PropertyJPath in the event with ExpectedValue.
//
// PropertyJPath is a JPath (the JSON path syntax of Newtonsoft.Json's
// SelectToken, which "JPath" names) into the event, which is the resource
// document of the event source (aka.ms/ASCAutomationSchemas). Azure's own
// rules use both spellings: "properties.metadata.severity", "type", "name",
// "id" (the spec's examples and the built-in continuous export policies) and
// "$.Entity.AssessmentType" (the spec's other examples). posture accepts an
// optional leading "$" (the event itself), property names after dots (bare
// for the first one), bracketed names ['name'] or ["name"], and array
// indexes [0]. Property names match exactly, else ignoring case (the first
// such name in byte order, for a stable answer): ARM treats property names
// case-insensitively, and posture's documents carry both resourceDetails.id
// and resourceDetails.Id. Wildcards, recursive descent (..), filters and
// slices select several values, which a rule cannot compare: Check reports
// them and such rules never hold.
//
// Strings compare ignoring case (the spec); the ordering operators take
// Integer and Number, Contains/StartsWith/EndsWith take String (the
// 2023-12-01-preview operator descriptions); Equals and NotEquals take any
// type. A property that is missing, null, or not a scalar never matches,
// with every operator, NotEquals included: a rule tests a value the event
// has (posture's choice; Azure documents nothing).
type Rule struct {
	PropertyJPath string
	PropertyType  string // String, Integer, Number or Boolean
	ExpectedValue string
	Operator      string
}

// Action is what an automation does when an event matches. ActionType says
// which fields apply: LogicApp (LogicAppResourceID, URI), EventHub
// (EventHubResourceID, ConnectionString, SASPolicyName,
// IsTrustedServiceEnabled) or Workspace (WorkspaceResourceID).
//
// URI and ConnectionString are write-only: never rendered by Document.
// SASPolicyName is read-only: clients cannot set it; posture takes it from
// the SharedAccessKeyName of the connection string.
type Action struct {
	ActionType string

	LogicAppResourceID string
	URI                string

	EventHubResourceID      string
	ConnectionString        string
	SASPolicyName           string
	IsTrustedServiceEnabled *bool // 2023-12-01-preview; nil when not given

	WorkspaceResourceID string
}

// ValidationResult is the body of POST …/automations/{name}/validate
// (AutomationValidationStatus).
type ValidationResult struct {
	IsValid bool   `json:"isValid"`
	Message string `json:"message"`
}

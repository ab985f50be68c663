package policy

// ComplianceState is the outcome of evaluating one (assignment, definition
// reference, resource) triple.
type ComplianceState string

// Compliance states (compliance-states.md). NotApplicable is never stored by
// Azure; the engine does not emit results for resources a definition does
// not apply to.
const (
	StateCompliant    ComplianceState = "Compliant"
	StateNonCompliant ComplianceState = "NonCompliant"
	StateExempt       ComplianceState = "Exempt"
	StateConflicting  ComplianceState = "Conflicting"
	StateError        ComplianceState = "Error"
	StateUnknown      ComplianceState = "Unknown"
	StateNotStarted   ComplianceState = "NotStarted"
	// StateDisabled is posture's own: the resource is one the definition
	// applies to, but the assignment sets its effect to Disabled. Azure
	// Policy stores nothing then; Defender for Cloud shows the assessment
	// as NotApplicable with cause OffByPolicy. Only EvalOptions.ReportDisabled
	// produces it.
	StateDisabled ComplianceState = "Disabled"
)

// rollUpRank orders states for aggregation: the state with the highest rank
// wins (compliance-states.md, "Compliance rollup"; Error ranks below
// Compliant and above Conflicting in the current documentation).
var rollUpRank = map[ComplianceState]int{
	StateNonCompliant: 7,
	StateCompliant:    6,
	StateError:        5,
	StateConflicting:  4,
	StateExempt:       3,
	StateUnknown:      2,
	StateNotStarted:   1,
}

// RollUp aggregates states the way Azure aggregates an initiative, a group,
// a policy over its resources or a resource over its policies. It returns ""
// for no states.
func RollUp(states ...ComplianceState) ComplianceState {
	var best ComplianceState
	for _, s := range states {
		if rollUpRank[s] > rollUpRank[best] {
			best = s
		}
	}
	return best
}

// StateCounts counts resources (or results) per state.
type StateCounts map[ComplianceState]int

// CompliancePercentage is Azure's compliance percentage: Compliant, Exempt
// and Unknown resources divided by all counted resources (Compliant,
// NonCompliant, Exempt, Conflicting and Unknown), x 100. Error and
// NotStarted do not count. The documentation lists the denominator without
// Unknown but then divides by "all distinct resources"; counting Unknown
// there keeps the figure within 0-100 (docs/policy-semantics.md). It returns
// 100 when nothing counts, as the portal shows an assignment without
// applicable resources.
func (c StateCounts) CompliancePercentage() float64 {
	total := c[StateCompliant] + c[StateNonCompliant] + c[StateExempt] + c[StateConflicting] + c[StateUnknown]
	if total == 0 {
		return 100
	}
	return 100 * float64(c[StateCompliant]+c[StateExempt]+c[StateUnknown]) / float64(total)
}

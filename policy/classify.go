package policy

import "strings"

// Class says how far posture can evaluate a definition from ARM documents.
type Class string

const (
	// ClassSelfContained: the if-condition reads only the evaluated
	// resource's own document (Audit, Deny, Modify, Append, Disabled).
	ClassSelfContained Class = "self-contained"
	// ClassRelatedARM: an AuditIfNotExists/DeployIfNotExists check on a
	// related ARM resource (diagnostic settings, site config, extensions ...)
	// that the caller imports like any other resource.
	ClassRelatedARM Class = "related-arm"
	// ClassScannerAssessment: the existence check reads a
	// Microsoft.Security/assessments result produced by Defender's scanners.
	// The result comes from imported assessments; without one the state is
	// Unknown.
	ClassScannerAssessment Class = "scanner-assessment"
	// ClassDefenderSetting: the existence check reads another
	// Microsoft.Security/* setting (pricings, security contacts ...).
	ClassDefenderSetting Class = "defender-setting"
	// ClassGuestConfiguration: the existence check reads an in-guest machine
	// configuration assignment; without an imported assignment the state is
	// Unknown.
	ClassGuestConfiguration Class = "guest-configuration"
	// ClassDataPlane: a resource provider mode (Microsoft.Kubernetes.Data,
	// Microsoft.KeyVault.Data ...) evaluated inside the service; not
	// evaluated by posture.
	ClassDataPlane Class = "data-plane"
	// ClassManual: a Manual effect; the state is the definition's default
	// state (or an attestation the caller applies).
	ClassManual Class = "manual"
)

// Evaluable reports whether posture computes the compliance of definitions
// of this class from ARM documents.
func (c Class) Evaluable() bool {
	return c == ClassSelfContained || c == ClassRelatedARM || c == ClassDefenderSetting
}

// classify decides a definition's class from its mode, its possible effects
// and the related type of its existence check.
func classify(d *Definition) Class {
	if d.dataPlaneMode() {
		return ClassDataPlane
	}
	relatedType := ""
	if d.rule != nil && d.rule.details != nil && d.rule.details.typeExpr != nil {
		if v, ok := constValue(d.rule.details.typeExpr); ok {
			relatedType, _ = v.(string)
		}
	}
	ifNotExists := false
	manualOnly := len(d.EffectValues) > 0
	for _, e := range d.EffectValues {
		if e.IfNotExists() {
			ifNotExists = true
		}
		if e != EffectManual && e != EffectDisabled {
			manualOnly = false
		}
	}
	if manualOnly {
		return ClassManual
	}
	if ifNotExists || relatedType != "" {
		return classifyRelated(relatedType)
	}
	return ClassSelfContained
}

func classifyRelated(relatedType string) Class {
	t := strings.ToLower(relatedType)
	switch {
	case t == "microsoft.security/assessments":
		return ClassScannerAssessment
	case strings.HasPrefix(t, "microsoft.security/"):
		return ClassDefenderSetting
	case t == "microsoft.guestconfiguration/guestconfigurationassignments":
		return ClassGuestConfiguration
	}
	return ClassRelatedARM
}

// dataPlaneHostTypes maps a resource provider mode to the ARM types whose
// compliance Azure reports from that mode's components. posture reports
// Unknown for those resources rather than nothing, so coverage is visible.
var dataPlaneHostTypes = map[string][]string{
	"microsoft.kubernetes.data":                 {"microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters"},
	"microsoft.keyvault.data":                   {"microsoft.keyvault/vaults"},
	"microsoft.managedhsm.data":                 {"microsoft.keyvault/managedhsms"},
	"microsoft.datafactory.data":                {"microsoft.datafactory/factories"},
	"microsoft.machinelearningservices.v2.data": {"microsoft.machinelearningservices/workspaces"},
	"microsoft.network.data":                    {"microsoft.network/virtualnetworks"},
}

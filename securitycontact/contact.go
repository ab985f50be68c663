// Package securitycontact holds the security contact of Defender for Cloud
// (Microsoft.Security/securityContacts): who is e-mailed about a
// subscription's security events and which events reach them. It reads and
// validates request bodies per api-version, renders the ARM document per
// api-version, and answers the questions a notifier asks (Recipients,
// NotifiesRoles, WantsSeverity, WantsRiskLevel).
//
// The package is pure: no HTTP, no store. The service that stores contacts
// calls CanonicalName on every request, Parse on PUT, ApplyPatch on PATCH
// (2017-08-01-preview only), Document (or DocumentWith, to add the etag,
// location and systemData Azure's responses carry) on reads, and stores
// Document(…, StoredVersion), which FromDocument reads back without loss.
//
// # One model, three api-versions
//
// Every api-version maps to and from Contact:
//
//   - 2017-08-01-preview: one address per contact (email), phone, and two
//     On/Off switches: alertNotifications (high-severity alert e-mails to
//     the address) and alertsToAdmins (alert e-mails to the subscription
//     owners). Contact names are free.
//   - 2020-01-01-preview: one contact named "default" with a ';'-separated
//     address list (emails), phone, alertNotifications{state,
//     minimalSeverity} and notificationsByRole{state, roles}.
//   - 2023-12-01-preview: "default" again, with isEnabled, emails, phone,
//     notificationsByRole and notificationsSources, a list of Alert
//     {minimalSeverity} and AttackPath {minimalRiskLevel} entries that
//     replaces alertNotifications.
//
// A switch a version does not have is derived when rendering: a contact
// that is disabled (isEnabled false) shows alertNotifications and
// notificationsByRole Off at the older versions, so that an older client
// sees what is actually sent. SOURCE.md lists the mapping and its sources.
//
// # Names
//
// From 2020-01-01-preview on, "default" is the only name. At
// 2017-08-01-preview names are free; posture treats "default" there as the
// same resource as "default" at the later versions, and every other 2017
// name as a separate legacy contact that only 2017-08-01-preview sees (see
// CanonicalName and SOURCE.md, "Names and coexistence").
package securitycontact

import (
	"slices"
	"strings"
)

// Type is the ARM resource type of a security contact.
const Type = "Microsoft.Security/securityContacts"

// api-versions of Microsoft.Security/securityContacts: the three that have a
// securityContacts.json in Azure/azure-rest-api-specs (SOURCE.md).
const (
	V2017 = "2017-08-01-preview" // per-address contacts, free names, PATCH
	V2020 = "2020-01-01-preview" // "default" only, emails list, roles
	V2023 = "2023-12-01-preview" // isEnabled, notificationsSources (the armsecurity v0.15.0 SDK's version)
)

// Versions are the api-versions posture serves for security contacts,
// oldest first.
var Versions = []string{V2017, V2020, V2023}

// StoredVersion is the api-version of the documents to store: FromDocument
// reads a Document(…, StoredVersion) back to the same Contact for contacts
// parsed at any version.
const StoredVersion = V2023

// SupportsVersion reports whether apiVersion is one of Versions.
func SupportsVersion(apiVersion string) bool { return slices.Contains(Versions, apiVersion) }

// SupportsPatch reports whether apiVersion has the PATCH operation
// (SecurityContacts_Update): only 2017-08-01-preview does.
func SupportsPatch(apiVersion string) bool { return apiVersion == V2017 }

// shape returns the api-version whose document shape serves apiVersion: the
// newest of Versions not after it (the oldest for earlier dates).
// api-versions start with their date, so comparing dates orders them.
func shape(apiVersion string) string {
	d := apiVersion
	if len(d) > 10 {
		d = d[:10]
	}
	switch {
	case d >= V2023[:10]:
		return V2023
	case d >= V2020[:10]:
		return V2020
	}
	return V2017
}

// States of alertNotifications, notificationsByRole and the 2017 switches.
const (
	On  = "On"
	Off = "Off"
)

// Alert severities, lowest first, as the contact's minimalSeverity takes
// them. Defender for Cloud alerts also have the severity Informational,
// which is below every threshold.
const (
	SeverityLow    = "Low"
	SeverityMedium = "Medium"
	SeverityHigh   = "High"
)

// Attack path risk levels, lowest first (minimalRiskLevel).
const (
	RiskLow      = "Low"
	RiskMedium   = "Medium"
	RiskHigh     = "High"
	RiskCritical = "Critical"
)

// Roles whose holders notificationsByRole can notify (SecurityContactRole).
const (
	RoleAccountAdmin = "AccountAdmin"
	RoleServiceAdmin = "ServiceAdmin"
	RoleOwner        = "Owner"
	RoleContributor  = "Contributor"
)

// Notification source types (NotificationsSource.sourceType).
const (
	SourceAlert      = "Alert"
	SourceAttackPath = "AttackPath"
)

// Enum values in the spec's order; matching is case-insensitive and yields
// these spellings.
var (
	states      = []string{On, Off}
	severities  = []string{SeverityLow, SeverityMedium, SeverityHigh}
	riskLevels  = []string{RiskLow, RiskMedium, RiskHigh, RiskCritical}
	roles       = []string{RoleAccountAdmin, RoleServiceAdmin, RoleOwner, RoleContributor}
	sourceTypes = []string{SourceAlert, SourceAttackPath}
)

// AlertNotifications is the 2020-01-01-preview alertNotifications object:
// whether alerts are e-mailed to the contact's addresses, and from which
// severity up. State is On or Off after Parse; MinimalSeverity is set only
// with On, and empty means the default threshold, High.
type AlertNotifications struct {
	State           string
	MinimalSeverity string
}

// NotificationsByRole says whether the holders of Roles on the subscription
// are e-mailed. State is On, Off or empty (not given); Roles are canonical
// and without duplicates.
type NotificationsByRole struct {
	State string
	Roles []string
}

// Source is one entry of notificationsSources: SourceType Alert with
// MinimalSeverity, or AttackPath with MinimalRiskLevel. An empty threshold
// means the default, High.
type Source struct {
	SourceType       string
	MinimalSeverity  string // Alert only
	MinimalRiskLevel string // AttackPath only
}

// Contact is a security contact in every api-version's terms.
//
// AlertNotifications and the Alert entry of NotificationsSources describe
// the same thing, alert e-mails; Parse keeps them in step (an Alert entry
// exactly when State is On, with the same threshold). For a Contact built
// by hand, an Alert entry in NotificationsSources wins; without one,
// AlertNotifications applies.
type Contact struct {
	Emails               []string // addresses in the order given; nil when none
	Phone                string
	IsEnabled            bool // false: nothing is sent (2023-12-01-preview isEnabled)
	AlertNotifications   AlertNotifications
	NotificationsByRole  NotificationsByRole
	NotificationsSources []Source // each SourceType at most once, in the order given
}

// Default returns the notification settings Azure documents for a
// subscription without a configured contact: subscription owners are
// e-mailed about high-severity alerts and attack paths
// (configure-email-notifications.md, SOURCE.md). It has no addresses.
func Default() *Contact {
	return &Contact{
		IsEnabled:           true,
		AlertNotifications:  AlertNotifications{State: On, MinimalSeverity: SeverityHigh},
		NotificationsByRole: NotificationsByRole{State: On, Roles: []string{RoleOwner}},
		NotificationsSources: []Source{
			{SourceType: SourceAlert, MinimalSeverity: SeverityHigh},
			{SourceType: SourceAttackPath, MinimalRiskLevel: RiskHigh},
		},
	}
}

// Recipients returns the addresses notices go to: Emails without repeats
// (addresses compared ignoring case, the first spelling kept), in order.
// It is empty when the contact is disabled. Which notices are sent is a
// separate question (WantsSeverity, WantsRiskLevel): the exemption request
// playbook, for one, mails these addresses whatever the alert settings.
func (c *Contact) Recipients() []string {
	if !c.IsEnabled {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range c.Emails {
		if k := strings.ToLower(e); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// NotifiesRoles returns the roles whose holders on the subscription are
// e-mailed: NotificationsByRole.Roles when the contact is enabled and
// NotificationsByRole.State is On, else nothing.
func (c *Contact) NotifiesRoles() []string {
	if !c.IsEnabled || c.NotificationsByRole.State != On {
		return nil
	}
	return slices.Clone(c.NotificationsByRole.Roles)
}

// WantsSeverity reports whether an alert of severity sev (Low, Medium or
// High, any case) is e-mailed: the contact is enabled, alert e-mails are
// on, and sev is at or above the threshold (High when none is set). Other
// severities, Informational among them, are not.
func (c *Contact) WantsSeverity(sev string) bool {
	a, ok := c.alerts()
	if !c.IsEnabled || !ok {
		return false
	}
	return atOrAbove(severities, sev, a.MinimalSeverity, SeverityHigh)
}

// WantsRiskLevel reports whether an attack path of risk level (Low, Medium,
// High or Critical, any case) is e-mailed: the contact is enabled, has an
// AttackPath source, and level is at or above its threshold (High when none
// is set). Only 2023-12-01-preview can configure attack path e-mails.
func (c *Contact) WantsRiskLevel(level string) bool {
	s := c.source(SourceAttackPath)
	if !c.IsEnabled || s == nil {
		return false
	}
	return atOrAbove(riskLevels, level, s.MinimalRiskLevel, RiskHigh)
}

// atOrAbove reports whether v is at or above min in the ascending scale,
// with def standing for an empty min. Unknown values are never wanted.
func atOrAbove(scale []string, v, min, def string) bool {
	if min == "" {
		min = def
	}
	i := slices.IndexFunc(scale, func(s string) bool { return strings.EqualFold(s, v) })
	j := slices.Index(scale, min)
	return i >= 0 && j >= 0 && i >= j
}

// alerts returns the alert e-mail settings and whether they are on: the
// Alert source if there is one, else AlertNotifications.
func (c *Contact) alerts() (AlertNotifications, bool) {
	if s := c.source(SourceAlert); s != nil {
		return AlertNotifications{State: On, MinimalSeverity: s.MinimalSeverity}, true
	}
	if c.AlertNotifications.State == On {
		return c.AlertNotifications, true
	}
	return AlertNotifications{State: Off}, false
}

func (c *Contact) source(sourceType string) *Source {
	for i := range c.NotificationsSources {
		if c.NotificationsSources[i].SourceType == sourceType {
			return &c.NotificationsSources[i]
		}
	}
	return nil
}

package securitycontact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Meta is what a document carries besides the contact: Azure's responses
// have an etag and a location at every version (azure-cli recordings, the
// 2020 list example), and the exemption request playbook's Parse JSON
// schema requires both; the 2023-12-01-preview model has systemData
// (TypeSpec ProxyResource, the SDK's Contact.SystemData). Empty fields are
// left out.
type Meta struct {
	ETag       string
	Location   string
	SystemData SystemData
}

// SystemData is the ARM systemData of a contact.
type SystemData struct {
	CreatedBy, CreatedByType           string
	CreatedAt                          time.Time
	LastModifiedBy, LastModifiedByType string
	LastModifiedAt                     time.Time
}

// The envelope follows Azure's recorded responses (azure-cli
// test_security_contacts.yaml): properties, id, name, type, etag, location.
// Properties are in alphabetical order, as in those responses and in the
// TypeSpec examples of 2023-12-01-preview. encoding/json writes struct
// fields in order, so the structs below are the layout.
type document[P any] struct {
	Properties P           `json:"properties"`
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	ETag       string      `json:"etag,omitempty"`
	Location   string      `json:"location,omitempty"`
	SystemData *systemData `json:"systemData,omitempty"`
}

type props2017 struct {
	AlertNotifications string `json:"alertNotifications"`
	AlertsToAdmins     string `json:"alertsToAdmins"`
	Email              string `json:"email,omitempty"`
	Phone              string `json:"phone,omitempty"`
}

type props2020 struct {
	AlertNotifications  alerts2020 `json:"alertNotifications"`
	Emails              string     `json:"emails,omitempty"`
	NotificationsByRole *byRole    `json:"notificationsByRole,omitempty"`
	Phone               string     `json:"phone,omitempty"`
}

type alerts2020 struct {
	MinimalSeverity string `json:"minimalSeverity,omitempty"`
	State           string `json:"state"`
}

type props2023 struct {
	Emails               string   `json:"emails,omitempty"`
	IsEnabled            bool     `json:"isEnabled"`
	NotificationsByRole  *byRole  `json:"notificationsByRole,omitempty"`
	NotificationsSources []source `json:"notificationsSources,omitempty"`
	Phone                string   `json:"phone,omitempty"`
}

type byRole struct {
	Roles []string `json:"roles,omitempty"`
	State string   `json:"state,omitempty"`
}

type source struct {
	MinimalRiskLevel string `json:"minimalRiskLevel,omitempty"`
	MinimalSeverity  string `json:"minimalSeverity,omitempty"`
	SourceType       string `json:"sourceType"`
}

type systemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

// Document renders the GET document of contact c at apiVersion; see
// DocumentWith.
func Document(id, name string, c *Contact, apiVersion string) []byte {
	return DocumentWith(id, name, c, apiVersion, Meta{})
}

// DocumentWith renders the GET document of contact c, with id and name, in
// the shape of apiVersion (for a date between two Versions, the older's):
//
//   - 2017-08-01-preview: email is the first address (the version holds
//     one); alertNotifications is On when alert e-mails are sent, whatever
//     their threshold; alertsToAdmins is On when role e-mails are sent to
//     at least one role.
//   - 2020-01-01-preview: emails joined with ';'; alertNotifications is
//     always present, its state On when alert e-mails are sent.
//   - 2023-12-01-preview: the contact as it is, isEnabled always present.
//
// At the two older versions, which have no isEnabled, a disabled contact
// shows every switch Off. The type is Type; empty optional properties are
// left out. The output is compact, without HTML escaping, and the same for
// the same input.
func DocumentWith(id, name string, c *Contact, apiVersion string, m Meta) []byte {
	switch shape(apiVersion) {
	case V2017:
		return encode(envelope(id, name, m, props2017{
			AlertNotifications: onOff(c.effectiveAlerts()),
			AlertsToAdmins:     onOff(len(c.NotifiesRoles()) > 0),
			Email:              first(c.Emails),
			Phone:              c.Phone,
		}, false))
	case V2020:
		p := props2020{
			AlertNotifications:  alerts2020{State: Off},
			Emails:              strings.Join(c.Emails, ";"),
			NotificationsByRole: byRoleOf(c.NotificationsByRole),
			Phone:               c.Phone,
		}
		if a, on := c.alerts(); on && c.IsEnabled {
			p.AlertNotifications = alerts2020{State: On, MinimalSeverity: a.MinimalSeverity}
		}
		if p.NotificationsByRole != nil && !c.IsEnabled && p.NotificationsByRole.State == On {
			p.NotificationsByRole.State = Off
		}
		return encode(envelope(id, name, m, p, false))
	}
	p := props2023{
		Emails:              strings.Join(c.Emails, ";"),
		IsEnabled:           c.IsEnabled,
		NotificationsByRole: byRoleOf(c.NotificationsByRole),
		Phone:               c.Phone,
	}
	if c.source(SourceAlert) == nil && c.AlertNotifications.State == On {
		p.NotificationsSources = append(p.NotificationsSources, source{SourceType: SourceAlert, MinimalSeverity: c.AlertNotifications.MinimalSeverity})
	}
	for _, s := range c.NotificationsSources {
		p.NotificationsSources = append(p.NotificationsSources, source{MinimalRiskLevel: s.MinimalRiskLevel, MinimalSeverity: s.MinimalSeverity, SourceType: s.SourceType})
	}
	return encode(envelope(id, name, m, p, true))
}

func envelope[P any](id, name string, m Meta, p P, withSystemData bool) document[P] {
	d := document[P]{Properties: p, ID: id, Name: name, Type: Type, ETag: m.ETag, Location: m.Location}
	if sd := m.SystemData; withSystemData && sd != (SystemData{}) {
		d.SystemData = &systemData{
			CreatedBy: sd.CreatedBy, CreatedByType: sd.CreatedByType, CreatedAt: formatTime(sd.CreatedAt),
			LastModifiedBy: sd.LastModifiedBy, LastModifiedByType: sd.LastModifiedByType, LastModifiedAt: formatTime(sd.LastModifiedAt),
		}
	}
	return d
}

func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Azure writes JSON
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("securitycontact: document: %v", err)) // only strings and bools: cannot fail
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// effectiveAlerts reports whether alert e-mails are sent at all.
func (c *Contact) effectiveAlerts() bool {
	_, on := c.alerts()
	return on && c.IsEnabled
}

func byRoleOf(n NotificationsByRole) *byRole {
	if n.State == "" && len(n.Roles) == 0 {
		return nil
	}
	return &byRole{Roles: n.Roles, State: n.State}
}

func onOff(on bool) string {
	if on {
		return On
	}
	return Off
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

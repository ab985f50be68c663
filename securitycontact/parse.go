package securitycontact

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/posture/posture"
)

// Limits. An address is at most 254 characters, the most an SMTP path (256
// octets with its angle brackets, RFC 5321 §4.5.3.1.3) can carry. The phone
// limit is posture's: Azure documents none, and a bound keeps documents
// small.
const (
	maxAddressLen = 254
	maxPhoneLen   = 100
)

// addrSpec is the WHATWG HTML definition of a valid e-mail address: a
// dot-atom style local part and a host name of letter-digit-hyphen labels.
// It leaves out what RFC 5322 allows but mail systems and forms do not
// (quoted local parts, comments, address literals).
var addrSpec = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")

// rawProps holds each property undecoded, so that a property of the wrong
// JSON type is reported with its own target. encoding/json matches names
// ignoring case, as ARM does. Properties of other api-versions are read but
// ignored, as ARM ignores unknown properties.
type rawProps struct {
	Email                json.RawMessage `json:"email"` // 2017
	Emails               json.RawMessage `json:"emails"`
	Phone                json.RawMessage `json:"phone"`
	AlertNotifications   json.RawMessage `json:"alertNotifications"` // 2017: On|Off; 2020: object
	AlertsToAdmins       json.RawMessage `json:"alertsToAdmins"`     // 2017
	NotificationsByRole  json.RawMessage `json:"notificationsByRole"`
	IsEnabled            json.RawMessage `json:"isEnabled"`            // 2023
	NotificationsSources json.RawMessage `json:"notificationsSources"` // 2023
}

// Parse reads and validates the PUT body of the contact named name at
// apiVersion, one of Versions. It checks the name (CanonicalName), the
// body's shape and every value, and reports all problems at once: an
// EINVALID *posture.Error whose Target names the property
// ("properties.emails", "properties.notificationsSources[1].sourceType"),
// with the others in Details.
//
// Per version:
//   - 2017-08-01-preview: email, alertNotifications and alertsToAdmins are
//     required (the spec's required list); email is one address.
//   - 2020-01-01-preview and 2023-12-01-preview: every property is
//     optional; emails is a ';'-separated list whose blank entries are
//     dropped, each entry an address. An absent isEnabled is true.
//
// Enum values are matched ignoring case and kept in the spec's spelling
// (Azure answered "Off" for a 2017 PUT of "off"). Unknown properties, and
// those of other versions, are ignored.
func Parse(name string, body []byte, apiVersion string) (*Contact, error) {
	if !SupportsVersion(apiVersion) {
		return nil, posture.Errorf(posture.EINVALID, codeAPIVersion,
			"The api-version '%s' is invalid for %s. The supported versions are '%s'.",
			clip(apiVersion), Type, strings.Join(Versions, ","))
	}
	var p problems
	if _, err := CanonicalName(name, apiVersion); err != nil {
		p.addErr(err)
	}
	c := parse(&p, body, apiVersion)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// FromDocument reads back a document written by Document for
// StoredVersion. A document that does not read back is corrupt storage, so
// the error is EINTERNAL (its cause kept for logs).
func FromDocument(doc []byte) (*Contact, error) {
	var p problems
	c := parse(&p, doc, StoredVersion)
	if err := p.err(); err != nil {
		return nil, &posture.Error{Kind: posture.EINTERNAL, Code: "InternalServerError",
			Message: "The server encountered an internal error. Please retry the request.",
			Err:     fmt.Errorf("securitycontact: stored document does not read back: %w", err)}
	}
	return c, nil
}

func parse(p *problems, body []byte, apiVersion string) *Contact {
	props, ok := readProperties(p, body)
	if !ok {
		if props == nil && !hasContentProblem(*p) {
			missing(p, "properties")
		}
		return nil
	}
	c := &Contact{IsEnabled: true}
	c.Phone = phone(p, props.Phone)
	switch apiVersion {
	case V2017:
		parse2017(p, props, c)
	case V2020:
		c.Emails = emails(p, props.Emails)
		c.AlertNotifications = alertNotifications(p, props.AlertNotifications)
		if c.AlertNotifications.State == On {
			c.NotificationsSources = []Source{{SourceType: SourceAlert, MinimalSeverity: c.AlertNotifications.MinimalSeverity}}
		}
		c.NotificationsByRole = notificationsByRole(p, props.NotificationsByRole)
	default:
		c.Emails = emails(p, props.Emails)
		if present(props.IsEnabled) {
			if err := json.Unmarshal(props.IsEnabled, &c.IsEnabled); err != nil {
				wrongType(p, "properties.isEnabled", "a boolean")
			}
		}
		c.NotificationsByRole = notificationsByRole(p, props.NotificationsByRole)
		c.NotificationsSources = notificationsSources(p, props.NotificationsSources)
		c.AlertNotifications = AlertNotifications{State: Off}
		if s := c.source(SourceAlert); s != nil {
			c.AlertNotifications = AlertNotifications{State: On, MinimalSeverity: s.MinimalSeverity}
		}
	}
	return c
}

// parse2017 reads the 2017-08-01-preview properties. alertNotifications On
// is alert e-mails from High up (what Azure's built-in policy "Email
// notification for high severity alerts should be enabled" checks it for);
// alertsToAdmins is e-mail to the subscription owners (CIS "Send email also
// to subscription owners").
func parse2017(p *problems, props *rawProps, c *Contact) {
	const emailTarget = "properties.email"
	if present(props.Email) {
		if s, ok := str(p, props.Email, emailTarget); ok {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				missing(p, emailTarget)
			case !validAddress(s):
				badAddress(p, emailTarget, s, "must be one e-mail address")
			default:
				c.Emails = []string{s}
			}
		}
	} else {
		missing(p, emailTarget)
	}
	alerts := required2017State(p, props.AlertNotifications, "properties.alertNotifications")
	if alerts == On {
		c.setAlerts(true, SeverityHigh)
	} else {
		c.setAlerts(false, "")
	}
	admins := required2017State(p, props.AlertsToAdmins, "properties.alertsToAdmins")
	c.NotificationsByRole = NotificationsByRole{State: admins, Roles: []string{RoleOwner}}
	if admins == "" {
		c.NotificationsByRole.State = Off
	}
}

func required2017State(p *problems, raw json.RawMessage, target string) string {
	if !present(raw) {
		missing(p, target)
		return ""
	}
	return oneOf(p, raw, target, codeState, states)
}

// ApplyPatch applies a 2017-08-01-preview PATCH body (SecurityContacts_Update,
// the only version with one) to c. Each property given replaces what that
// version shows: email the first address (the others, from later versions,
// stay), phone the phone, alertNotifications On turns alert e-mails on (from
// High up unless already on) and Off turns them off, alertsToAdmins sets
// the state of role e-mails (to the owners when no roles are set). Absent
// and null properties change nothing. On error c is unchanged.
func (c *Contact) ApplyPatch(body []byte, apiVersion string) error {
	if !SupportsPatch(apiVersion) {
		return posture.Errorf(posture.EINVALID, codeAPIVersion,
			"The api-version '%s' has no PATCH for %s; only '%s' has.", clip(apiVersion), Type, V2017)
	}
	var p problems
	props, ok := readProperties(&p, body)
	if !ok {
		return p.err() // nil when properties is absent: nothing to change
	}
	next := c.clone()
	if present(props.Email) {
		const target = "properties.email"
		if s, ok := str(&p, props.Email, target); ok {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				missing(&p, target)
			case !validAddress(s):
				badAddress(&p, target, s, "must be one e-mail address")
			case len(next.Emails) == 0:
				next.Emails = []string{s}
			default:
				next.Emails[0] = s
			}
		}
	}
	if present(props.Phone) {
		next.Phone = phone(&p, props.Phone)
	}
	if present(props.AlertNotifications) {
		switch oneOf(&p, props.AlertNotifications, "properties.alertNotifications", codeState, states) {
		case On:
			if _, on := next.alerts(); !on {
				next.setAlerts(true, SeverityHigh)
			}
		case Off:
			next.setAlerts(false, "")
		}
	}
	if present(props.AlertsToAdmins) {
		if s := oneOf(&p, props.AlertsToAdmins, "properties.alertsToAdmins", codeState, states); s != "" {
			next.NotificationsByRole.State = s
			if s == On && len(next.NotificationsByRole.Roles) == 0 {
				next.NotificationsByRole.Roles = []string{RoleOwner}
			}
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	*c = *next
	return nil
}

// setAlerts turns alert e-mails on (with threshold sev) or off, keeping
// AlertNotifications and the Alert source in step.
func (c *Contact) setAlerts(on bool, sev string) {
	c.NotificationsSources = slices.DeleteFunc(c.NotificationsSources, func(s Source) bool { return s.SourceType == SourceAlert })
	if !on {
		c.AlertNotifications = AlertNotifications{State: Off}
		if len(c.NotificationsSources) == 0 {
			c.NotificationsSources = nil
		}
		return
	}
	c.AlertNotifications = AlertNotifications{State: On, MinimalSeverity: sev}
	c.NotificationsSources = append([]Source{{SourceType: SourceAlert, MinimalSeverity: sev}}, c.NotificationsSources...)
}

func (c *Contact) clone() *Contact {
	n := *c
	n.Emails = slices.Clone(c.Emails)
	n.NotificationsByRole.Roles = slices.Clone(c.NotificationsByRole.Roles)
	n.NotificationsSources = slices.Clone(c.NotificationsSources)
	return &n
}

// readProperties decodes {"properties":{…}}. It returns nil props and ok
// false with no problem when properties is absent or null.
func readProperties(p *problems, body []byte) (*rawProps, bool) {
	// JSON text is UTF-8 (RFC 8259 §8.1).
	if !utf8.Valid(body) {
		p.add(codeContent, "", "The request content is not valid UTF-8.")
		return nil, false
	}
	var top struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		p.add(codeContent, "", "The request content is not a valid JSON object: %s.", jsonProblem(err))
		return nil, false
	}
	if !present(top.Properties) {
		return nil, false
	}
	var props rawProps
	if err := json.Unmarshal(top.Properties, &props); err != nil {
		// Every field takes any JSON value, so only a properties that is
		// not an object fails here.
		p.add(codeContent, "properties", "The request content is invalid: properties must be a JSON object.")
		return nil, false
	}
	return &props, true
}

func hasContentProblem(p problems) bool {
	return slices.ContainsFunc(p, func(e *posture.Error) bool { return e.Code == codeContent })
}

// present reports whether a property was given with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func missing(p *problems, target string) {
	p.add(codeMissing, target, "The property '%s' is required.", target)
}

func wrongType(p *problems, target, kind string) {
	p.add(codeContent, target, "The property '%s' must be %s.", target, kind)
}

// str decodes a string property; a wrong JSON type is a problem, reported
// once: callers stop checking when ok is false.
func str(p *problems, raw json.RawMessage, target string) (s string, ok bool) {
	if err := json.Unmarshal(raw, &s); err != nil {
		wrongType(p, target, "a string")
		return "", false
	}
	return s, true
}

// oneOf reads a string enum ignoring case and returns its canonical
// spelling, or "" after reporting a problem.
func oneOf(p *problems, raw json.RawMessage, target, code string, values []string) string {
	s, ok := str(p, raw, target)
	if !ok {
		return ""
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	p.add(code, target, "The value '%s' of '%s' is not valid; use %s.", clip(s), target, strings.Join(values, ", "))
	return ""
}

// emails splits a 2020/2023 emails list at ';' (the separator of the spec's
// examples, of Azure's docs, and of the Office 365 connector the exemption
// request playbook hands it to), trims each entry and drops blank ones.
func emails(p *problems, raw json.RawMessage) []string {
	const target = "properties.emails"
	if !present(raw) {
		return nil
	}
	s, ok := str(p, raw, target)
	if !ok {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case !validAddress(part):
			badAddress(p, target, part, "is not an e-mail address; separate addresses with ';'")
		default:
			out = append(out, part)
		}
	}
	return out
}

// validAddress reports whether s is one bare address: the WHATWG form, at
// most 254 characters, and one net/mail (which posture's mailer uses)
// parses to itself.
func validAddress(s string) bool {
	if len(s) > maxAddressLen || !addrSpec.MatchString(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func badAddress(p *problems, target, addr, why string) {
	p.add(codeEmail, target, "Invalid security contact e-mail: '%s' %s.", clip(addr), why)
}

func phone(p *problems, raw json.RawMessage) string {
	const target = "properties.phone"
	if !present(raw) {
		return ""
	}
	s, ok := str(p, raw, target)
	if !ok {
		return ""
	}
	n := utf8.RuneCountInString(s)
	if n > maxPhoneLen || strings.ContainsFunc(s, unicode.IsControl) {
		p.add(codePhone, target, "The phone number may have at most %d characters and no control characters.", maxPhoneLen)
		return ""
	}
	return s
}

// alertNotifications reads the 2020-01-01-preview object. An absent object
// or state is Off; the threshold is kept only with On.
func alertNotifications(p *problems, raw json.RawMessage) AlertNotifications {
	const target = "properties.alertNotifications"
	a := AlertNotifications{State: Off}
	if !present(raw) {
		return a
	}
	var o struct {
		State           json.RawMessage `json:"state"`
		MinimalSeverity json.RawMessage `json:"minimalSeverity"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		wrongType(p, target, "an object")
		return a
	}
	if present(o.State) && oneOf(p, o.State, target+".state", codeState, states) == On {
		a.State = On
	}
	var sev string
	if present(o.MinimalSeverity) {
		sev = oneOf(p, o.MinimalSeverity, target+".minimalSeverity", codeSeverity, severities)
	}
	if a.State == On {
		a.MinimalSeverity = sev
	}
	return a
}

// notificationsByRole reads the object of 2020 and 2023. Roles are kept in
// order without repeats.
func notificationsByRole(p *problems, raw json.RawMessage) NotificationsByRole {
	const target = "properties.notificationsByRole"
	var n NotificationsByRole
	if !present(raw) {
		return n
	}
	var o struct {
		State json.RawMessage `json:"state"`
		Roles json.RawMessage `json:"roles"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		wrongType(p, target, "an object")
		return n
	}
	if present(o.State) {
		n.State = oneOf(p, o.State, target+".state", codeState, states)
	}
	if !present(o.Roles) {
		return n
	}
	var list []json.RawMessage
	if err := json.Unmarshal(o.Roles, &list); err != nil {
		wrongType(p, target+".roles", "an array of strings")
		return n
	}
	for i, r := range list {
		role := oneOf(p, r, fmt.Sprintf("%s.roles[%d]", target, i), codeRole, roles)
		if role != "" && !slices.Contains(n.Roles, role) {
			n.Roles = append(n.Roles, role)
		}
	}
	return n
}

// notificationsSources reads the 2023-12-01-preview list. sourceType is
// required (the spec's discriminator) and each type may appear once: two
// Alert entries would give two thresholds.
func notificationsSources(p *problems, raw json.RawMessage) []Source {
	const target = "properties.notificationsSources"
	if !present(raw) {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		wrongType(p, target, "an array of objects")
		return nil
	}
	var out []Source
	for i, item := range list {
		t := fmt.Sprintf("%s[%d]", target, i)
		var o struct {
			SourceType       json.RawMessage `json:"sourceType"`
			MinimalSeverity  json.RawMessage `json:"minimalSeverity"`
			MinimalRiskLevel json.RawMessage `json:"minimalRiskLevel"`
		}
		if err := json.Unmarshal(item, &o); err != nil {
			wrongType(p, t, "an object")
			continue
		}
		if !present(o.SourceType) {
			missing(p, t+".sourceType")
			continue
		}
		s := Source{SourceType: oneOf(p, o.SourceType, t+".sourceType", codeSourceType, sourceTypes)}
		switch s.SourceType {
		case "":
			continue
		case SourceAlert:
			if present(o.MinimalSeverity) {
				s.MinimalSeverity = oneOf(p, o.MinimalSeverity, t+".minimalSeverity", codeSeverity, severities)
			}
		case SourceAttackPath:
			if present(o.MinimalRiskLevel) {
				s.MinimalRiskLevel = oneOf(p, o.MinimalRiskLevel, t+".minimalRiskLevel", codeRiskLevel, riskLevels)
			}
		}
		if slices.ContainsFunc(out, func(x Source) bool { return x.SourceType == s.SourceType }) {
			p.add(codeSourceDup, t+".sourceType", "The notification source type '%s' is listed more than once.", s.SourceType)
			continue
		}
		out = append(out, s)
	}
	return out
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("the document is a JSON %s where an object was expected", te.Value)
	}
	return err.Error()
}

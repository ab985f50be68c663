package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// Event is what happened. Its value is also the "type" of the generic
// webhook body, so it is stable.
type Event string

// Events posture notifies about.
const (
	// EventRequestCreated: someone asks for an exemption; approvers get
	// Approve / Reject / View links.
	EventRequestCreated Event = "posture.exemption.request.created"
	// EventRequestApproved: the request was approved (the exemption exists).
	EventRequestApproved Event = "posture.exemption.request.approved"
	// EventRequestRejected: the request was rejected, with a reason.
	EventRequestRejected Event = "posture.exemption.request.rejected"
	// EventRequestExpired: nobody decided before the request lapsed.
	EventRequestExpired Event = "posture.exemption.request.expired"
	// EventExemptionCreated: an exemption now applies.
	EventExemptionCreated Event = "posture.exemption.created"
	// EventExemptionExpiring: a reminder before expiry, with a renewal link.
	EventExemptionExpiring Event = "posture.exemption.expiring"
	// EventExemptionExpired: the exemption no longer applies.
	EventExemptionExpired Event = "posture.exemption.expired"
	// EventExemptionNeedsReview: what the exemption excused changed (or its
	// evidence failed); it is honoured until ExpiresOn (the end of the
	// grace period), then not, unless someone renews it. Reason says what
	// changed.
	EventExemptionNeedsReview Event = "posture.exemption.needsreview"
)

var knownEvents = map[Event]bool{
	EventRequestCreated: true, EventRequestApproved: true, EventRequestRejected: true,
	EventRequestExpired: true, EventExemptionCreated: true, EventExemptionExpiring: true,
	EventExemptionExpired: true, EventExemptionNeedsReview: true,
}

// Category is the exemption category, as Azure Policy spells it.
type Category string

// Exemption categories.
const (
	CategoryWaiver    Category = "Waiver"    // the risk is accepted
	CategoryMitigated Category = "Mitigated" // the intent is met by other means
)

// Message is one notification, independent of the channel that carries it.
// Fields that do not apply to an event are left empty and are not rendered.
type Message struct {
	// ID identifies the event. It is the idempotency key receivers use to
	// drop duplicates, so a retried delivery must reuse it. Letters, digits
	// and ". _ : -", at most 200 characters.
	ID         string
	Event      Event
	OccurredAt time.Time

	RequestID   string // the exemption request
	ExemptionID string // the policyExemptions resource id, once it exists
	Requester   string // who asked
	Actor       string // who approved or rejected
	Reason      string // the approver's comment or the rejection reason

	// Resources lists the exempted resource ids. Scope is set instead when
	// the exemption covers a whole scope (management group, subscription,
	// resource group).
	Resources []string
	Scope     string

	Recommendation string // the recommendation's display name
	AssessmentKey  string
	Severity       string // High, Medium, Low
	Category       Category
	Justification  string
	ExpiresOn      time.Time // requested or actual expiry; zero means none

	Ticket *TicketRef // an issue already opened for this request
	Links  Links

	// Recipients are e-mail addresses, used by the e-mail channel only.
	// ParseAddressList reads the ";"-separated form of securityContacts.
	Recipients []string
}

// Links are the URLs a recipient can open. posture's API generates and signs
// them; notify only places them. Each must be an absolute http(s) URL.
type Links struct {
	View    string // the request or exemption in posture
	Approve string // one-click approval (request created only)
	Reject  string // one-click rejection (request created only)
	Renew   string // one-click renewal (expiring or expired exemptions)
}

// TicketRef points at an issue in an external tracker.
type TicketRef struct {
	System string // "jira", "servicenow"
	Key    string // PROJ-123, INC0010002
	URL    string
}

// maxLinkLength keeps links within what every channel accepts (Slack button
// URLs stop at 3000 characters).
const maxLinkLength = 2048

// Validate checks what every channel relies on. Renderers call it; callers
// may call it earlier to reject a message before it is queued.
func (m *Message) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m == nil {
		return errors.New("notify: nil message")
	}
	if !validID(m.ID) {
		bad("id %q: want 1-200 letters, digits or . _ : -", m.ID)
	}
	if !knownEvents[m.Event] {
		bad("event %q is not known", m.Event)
	}
	if m.Category != "" && m.Category != CategoryWaiver && m.Category != CategoryMitigated {
		bad("category %q: want Waiver or Mitigated", m.Category)
	}
	if len(m.Resources) == 0 && m.Scope == "" {
		bad("resources or scope is required")
	}
	for _, r := range m.Resources {
		if strings.TrimSpace(r) == "" {
			bad("resources contains an empty id")
		}
	}
	if m.Recommendation == "" && m.AssessmentKey == "" {
		bad("recommendation or assessment key is required")
	}
	switch m.Event {
	case EventRequestCreated, EventRequestApproved, EventRequestRejected, EventRequestExpired:
		if m.RequestID == "" {
			bad("request id is required for %s", m.Event)
		}
	case EventExemptionExpiring, EventExemptionNeedsReview:
		if m.ExpiresOn.IsZero() {
			bad("expiry is required for %s", m.Event)
		}
	}
	for name, link := range map[string]string{"view": m.Links.View, "approve": m.Links.Approve, "reject": m.Links.Reject, "renew": m.Links.Renew} {
		if err := checkLink(link); err != nil {
			bad("%s link: %v", name, err)
		}
	}
	if m.Ticket != nil {
		if err := checkLink(m.Ticket.URL); err != nil {
			bad("ticket link: %v", err)
		}
	}
	for _, r := range m.Recipients {
		if _, err := mail.ParseAddress(r); err != nil {
			bad("recipient %q: %v", r, err)
		}
	}
	return errors.Join(errs...)
}

// checkLink accepts empty (no link) or an absolute http(s) URL. Anything else
// (javascript:, data:, relative paths) could run script or mislead when put
// in an href or a button.
func checkLink(link string) error {
	if link == "" {
		return nil
	}
	if len(link) > maxLinkLength {
		return fmt.Errorf("longer than %d characters", maxLinkLength)
	}
	u, err := url.Parse(link)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an absolute http or https URL")
	}
	if strings.ContainsAny(link, " \t\r\n\"'<>") {
		return errors.New("contains spaces, quotes or angle brackets")
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for _, r := range id {
		if !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._:-", r))) {
			return false
		}
	}
	return true
}

// ParseAddressList reads recipients the way the Request-ResourceExemption
// playbook does: securityContacts properties.emails is a ";"-separated list.
// Commas are accepted too; blanks are skipped; every address must parse.
func ParseAddressList(s string) ([]string, error) {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		addr, err := mail.ParseAddress(part)
		if err != nil {
			return nil, fmt.Errorf("notify: recipient %q: %w", part, err)
		}
		// A quoted local part (`" a"@x`) comes back unquoted, which is
		// another address (" a@x" reads as a@x): refuse it.
		if back, err := mail.ParseAddress(addr.Address); err != nil || back.Address != addr.Address {
			return nil, fmt.Errorf("notify: recipient %q: quoted local parts are not supported", part)
		}
		out = append(out, addr.Address)
	}
	return out, nil
}

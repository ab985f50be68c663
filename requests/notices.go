package requests

import (
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/notify"
	"github.com/posture/posture/outbox"
	"github.com/posture/posture/securitycontact"
)

// ContactType is the lower-case type of security contacts.
const contactTypeKey = "microsoft.security/securitycontacts"

// contactsOf returns the e-mail addresses of the security contacts of the
// subscriptions, as the Request-ResourceExemption playbook reads them
// (properties.emails, ";"-separated). A contact switched off (isEnabled
// false, 2023-12-01-preview) is left out.
func contactsOf(tx posture.Tx, subs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, sub := range subs {
		rs, err := tx.ListResources(posture.ResourceFilter{Parent: armid.SubscriptionScope(sub).Key(), Types: []string{contactTypeKey}, Limit: 100})
		if err != nil {
			return nil, err
		}
		for _, res := range rs {
			c, err := securitycontact.FromDocument(res.Body)
			if err != nil {
				continue // an imported document not in the API's shape
			}
			for _, a := range c.Recipients() {
				if k := strings.ToLower(a); !seen[k] {
					seen[k] = true
					out = append(out, a)
				}
			}
		}
	}
	return out, nil
}

// subscriptionsOf lists the subscriptions a request touches.
func subscriptionsOf(id armid.ID, r *Request) []string {
	var subs []string
	for _, t := range r.Targets(id) {
		if s := strings.ToLower(t.SubscriptionID()); s != "" && !slices.Contains(subs, s) {
			subs = append(subs, s)
		}
	}
	return subs
}

// message builds the notice of a request event.
func (s *Service) message(id armid.ID, r *Request, ev notify.Event, now time.Time) *notify.Message {
	m := &notify.Message{
		ID:             outbox.EventID("request", shortKey(id.Key()), string(ev)[len("posture."):], r.RequestedAt.Format("20060102T150405")),
		Event:          ev,
		OccurredAt:     now,
		RequestID:      id.String(),
		Requester:      r.RequestedBy.Label(),
		Recommendation: r.RecommendationDisplayName,
		AssessmentKey:  r.AssessmentKey,
		Severity:       r.Severity,
		Category:       notify.Category(r.Category),
		Justification:  r.Justification,
	}
	if m.Recommendation == "" && m.AssessmentKey == "" {
		m.Recommendation = strings.Join(append([]string{r.PolicyAssignmentID}, r.PolicyDefinitionReferenceIDs...), " ")
	}
	if len(r.ResourceIDs) > 0 {
		m.Resources = r.ResourceIDs
	} else {
		m.Scope = id.Scope().String()
	}
	if r.ExpiresOn != nil {
		m.ExpiresOn = *r.ExpiresOn
	}
	if r.Decision != nil {
		m.Actor, m.Reason = r.Decision.By.Label(), r.Decision.Reason
	}
	if len(r.ExemptionIDs) > 0 {
		m.ExemptionID = r.ExemptionIDs[0]
	}
	if r.Ticket != nil {
		m.Ticket = r.Ticket.Ref()
	}
	if s.Links != nil && s.Links.BaseURL != "" {
		m.Links.View = strings.TrimRight(s.Links.BaseURL, "/") + "/requests/view?id=" + urlEscape(id.String())
		if ev == notify.EventRequestCreated {
			m.Links.Approve = s.Links.Make(LinkApprove, id.String(), now)
			m.Links.Reject = s.Links.Make(LinkReject, id.String(), now)
		}
	}
	return m
}

// Label names the actor for people: display name and id.
func (a Actor) Label() string {
	if a.DisplayName != "" && !strings.EqualFold(a.DisplayName, a.PrincipalID) {
		return a.DisplayName + " (" + a.PrincipalID + ")"
	}
	return a.PrincipalID
}

// notify enqueues the notices of a request event inside tx: to the
// security contacts of the subscriptions it touches, on every channel,
// and to its ticket.
func (s *Service) notify(tx posture.Tx, id armid.ID, r *Request, ev notify.Event, now time.Time) error {
	if s.Outbox == nil {
		return nil
	}
	m := s.message(id, r, ev, now)
	to, err := contactsOf(tx, subscriptionsOf(id, r))
	if err != nil {
		return err
	}
	m.Recipients = to
	return s.Outbox.Enqueue(tx, m, id.Key(), true)
}

func shortKey(key string) string {
	// The id's name is readable; a hash of the whole key keeps it unique.
	name := key[strings.LastIndexByte(key, '/')+1:]
	return name + "-" + hashHex(key)[:12]
}

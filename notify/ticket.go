package notify

import "context"

// Channel delivers a message to people. Implementations: EmailChannel,
// TeamsChannel, SlackChannel, WebhookChannel.
type Channel interface {
	// Name identifies the channel in logs and metrics.
	Name() string
	// Send delivers m once. It returns nil or an *Error: IsRetryable and
	// RetryAfter tell a queue whether and when to try again. Send never
	// retries on its own; a retry must reuse m (and m.ID).
	Send(ctx context.Context, m *Message) error
}

// Ticket is an issue opened in an external tracker for an exemption request.
// Keep it with the request: later status changes are posted to it.
type Ticket struct {
	System string `json:"system"`          // "jira" or "servicenow"
	ID     string `json:"id"`              // Jira issue id, ServiceNow sys_id
	Key    string `json:"key"`             // SEC-17, INC0010002
	URL    string `json:"url"`             // where a person opens it
	Table  string `json:"table,omitempty"` // ServiceNow table the record is in
}

// Ref returns the reference a Message carries to show the ticket.
func (t Ticket) Ref() *TicketRef { return &TicketRef{System: t.System, Key: t.Key, URL: t.URL} }

// TicketConnector opens a ticket for a request and comments on it as the
// request changes. Implementations: JiraConnector, ServiceNowConnector.
//
// Neither tracker accepts an idempotency key, so a Create retried after a
// timeout may open a second ticket. Both connectors tag what they create
// with the request id (Jira label posture-request-<id>, ServiceNow
// correlation_id) so that duplicates can be found.
type TicketConnector interface {
	Name() string
	// Create opens a ticket describing m (normally EventRequestCreated).
	Create(ctx context.Context, m *Message) (Ticket, error)
	// Comment adds m (an approval, rejection, expiry...) to an open ticket.
	Comment(ctx context.Context, t Ticket, m *Message) error
}

// ticketContent is the content of m without one-click decision links:
// anyone who can read the ticket could use them, while an e-mail reaches
// only the approvers. The view link stays; deciding happens in posture.
func ticketContent(m *Message) content {
	c := newContent(m)
	var keep []action
	for _, a := range c.Actions {
		if a.ID == "view" {
			keep = append(keep, a)
		}
	}
	c.Actions = keep
	c.Intro = ticketIntro(m, c.Intro)
	return c
}

// ticketIntro replaces "approve or reject" advice, which made sense next to
// buttons, with where to decide.
func ticketIntro(m *Message, intro string) string {
	if m.Event == EventRequestCreated {
		const tail = " Review the justification, then approve or reject."
		if len(intro) > len(tail) && intro[len(intro)-len(tail):] == tail {
			return intro[:len(intro)-len(tail)] + " Approvers decide in posture."
		}
	}
	return intro
}

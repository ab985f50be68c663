// Package outbox turns what happened (a request filed, an exemption about
// to expire) into jobs of the durable queue, one per channel, and runs
// those jobs: it sends notices through package notify, opens and comments
// tickets, and posts workflow-automation events. Services call it inside
// the transaction of the change they report (Enqueue), so that notices
// exist exactly when the change does.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/notify"
)

// Job kinds.
const (
	KindNotice        = "notice"         // one message through one channel
	KindTicketCreate  = "ticket.create"  // open a ticket for a request
	KindTicketComment = "ticket.comment" // post a change to the request's ticket
	KindAutomation    = "automation"     // a workflow automation event
)

// Outbox holds the channels and connectors notices go through.
type Outbox struct {
	Channels []notify.Channel
	// Tickets opens and comments tickets; nil: no tickets.
	Tickets notify.TicketConnector
	// DefaultRecipients get e-mail when a message names nobody.
	DefaultRecipients []string
	Store             posture.Store
	// TicketOpened stores a ticket with its request (requests.Service).
	TicketOpened func(ctx context.Context, requestID string, t notify.Ticket) error
	// TicketOf returns a request's ticket; nil while none is open.
	TicketOf func(ctx context.Context, requestID string) (*notify.Ticket, error)
	// Automations delivers automation jobs (package automation's
	// dispatcher); nil: automation jobs fail.
	Automations func(ctx context.Context, j *posture.Job) error
}

// notice is the payload of a KindNotice job.
type notice struct {
	Channel string          `json:"channel"`
	Message *notify.Message `json:"message"`
}

// ticketJob is the payload of the ticket jobs.
type ticketJob struct {
	RequestID string          `json:"requestId"`
	Message   *notify.Message `json:"message"`
}

// channelIDs names the channels uniquely: several webhooks share a name.
func (o *Outbox) channelIDs() []string {
	ids := make([]string, len(o.Channels))
	seen := map[string]int{}
	for i, ch := range o.Channels {
		n := ch.Name()
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s-%d", n, seen[n])
		}
		ids[i] = n
	}
	return ids
}

// Jobs returns the jobs that deliver m: a notice per channel (e-mail only
// when someone is to receive it) and, with ticket set, a ticket job
// (opening one for a new request, commenting otherwise). ref is the
// lower-case id of the object m is about.
func (o *Outbox) Jobs(m *notify.Message, ref string, ticket bool) ([]*posture.Job, error) {
	if err := m.Validate(); err != nil {
		return nil, posture.Internal(fmt.Errorf("outbox: %w", err))
	}
	var jobs []*posture.Job
	for i, id := range o.channelIDs() {
		msg := m
		if o.Channels[i].Name() == "email" {
			if len(m.Recipients) == 0 && len(o.DefaultRecipients) == 0 {
				continue
			}
		} else if len(m.Recipients) > 0 {
			c := *m
			c.Recipients = nil // addresses are for mail only
			msg = &c
		}
		payload, _ := json.Marshal(notice{Channel: id, Message: msg})
		jobs = append(jobs, &posture.Job{Key: m.ID + "/" + id, Kind: KindNotice, Ref: ref, Payload: payload})
	}
	if ticket && o.Tickets != nil {
		kind := KindTicketComment
		if m.Event == notify.EventRequestCreated {
			kind = KindTicketCreate
		}
		payload, _ := json.Marshal(ticketJob{RequestID: m.RequestID, Message: m})
		jobs = append(jobs, &posture.Job{Key: m.ID + "/ticket", Kind: kind, Ref: ref, Payload: payload})
	}
	return jobs, nil
}

// Enqueue adds the jobs of m inside tx.
func (o *Outbox) Enqueue(tx posture.Tx, m *notify.Message, ref string, ticket bool) error {
	if o == nil {
		return nil
	}
	jobs, err := o.Jobs(m, ref, ticket)
	if err != nil || len(jobs) == 0 {
		return err
	}
	_, err = tx.EnqueueJobs(jobs)
	return err
}

// Handlers returns the queue handlers of the outbox's job kinds.
func (o *Outbox) Handlers() map[string]func(context.Context, *posture.Job) error {
	return map[string]func(context.Context, *posture.Job) error{
		KindNotice:        o.sendNotice,
		KindTicketCreate:  o.createTicket,
		KindTicketComment: o.commentTicket,
		KindAutomation:    o.automation,
	}
}

func (o *Outbox) sendNotice(ctx context.Context, j *posture.Job) error {
	var n notice
	if err := json.Unmarshal(j.Payload, &n); err != nil || n.Message == nil {
		return permanent(fmt.Errorf("notice payload: %v", err))
	}
	for i, id := range o.channelIDs() {
		if id != n.Channel {
			continue
		}
		m := n.Message
		if o.Channels[i].Name() == "email" && len(m.Recipients) == 0 {
			c := *m
			c.Recipients = o.DefaultRecipients
			m = &c
		}
		return o.Channels[i].Send(ctx, m)
	}
	return permanent(fmt.Errorf("channel %q is no longer configured", n.Channel))
}

func (o *Outbox) createTicket(ctx context.Context, j *posture.Job) error {
	var t ticketJob
	if err := json.Unmarshal(j.Payload, &t); err != nil || t.Message == nil {
		return permanent(fmt.Errorf("ticket payload: %v", err))
	}
	if o.Tickets == nil {
		return permanent(errors.New("no ticket connector is configured"))
	}
	// A retry after the ticket was stored must not open a second one.
	if have, err := o.TicketOf(ctx, t.RequestID); err != nil {
		return err
	} else if have != nil {
		return nil
	}
	tk, err := o.Tickets.Create(ctx, t.Message)
	if err != nil {
		return err
	}
	return o.TicketOpened(ctx, t.RequestID, tk)
}

func (o *Outbox) commentTicket(ctx context.Context, j *posture.Job) error {
	var t ticketJob
	if err := json.Unmarshal(j.Payload, &t); err != nil || t.Message == nil {
		return permanent(fmt.Errorf("ticket payload: %v", err))
	}
	if o.Tickets == nil {
		return permanent(errors.New("no ticket connector is configured"))
	}
	tk, err := o.TicketOf(ctx, t.RequestID)
	if err != nil {
		return err
	}
	if tk == nil {
		// The ticket is not open yet (its job is behind this one): try
		// again later.
		return errors.New("the request's ticket is not open yet")
	}
	m := *t.Message
	m.Ticket = tk.Ref()
	return o.Tickets.Comment(ctx, *tk, &m)
}

func (o *Outbox) automation(ctx context.Context, j *posture.Job) error {
	if o.Automations == nil {
		return permanent(errors.New("workflow automation delivery is not configured"))
	}
	return o.Automations(ctx, j)
}

// permanentError marks an error not worth retrying.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func permanent(err error) error { return permanentError{err} }

// Permanent wraps an error so that the queue does not retry it.
func Permanent(err error) error { return permanent(err) }

// Classify tells the queue whether a failed job is worth retrying and how
// long the receiver asked to wait: notify's errors say so themselves.
func Classify(err error) (retry bool, after time.Duration) {
	var p permanentError
	if errors.As(err, &p) {
		return false, 0
	}
	var ne *notify.Error
	if errors.As(err, &ne) {
		d, _ := notify.RetryAfter(err)
		return ne.Retryable, d
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return true, ra.RetryAfter()
	}
	var pe *posture.Error
	if errors.As(err, &pe) {
		switch pe.Kind {
		case posture.EINVALID, posture.EFORBIDDEN, posture.ENOTFOUND:
			return false, 0
		}
	}
	return true, 0
}

// EventID makes a notify message id (letters, digits, ". _ : -") from
// parts such as an object key and an event name.
func EventID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	s := b.String()
	if len(s) > 200 {
		s = s[len(s)-200:]
	}
	return s
}

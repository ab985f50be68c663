package requests

import (
	"context"
	"encoding/json"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/notify"
	"github.com/posture/posture/outbox"
)

// DefaultReminders are the days before expiry at which owners are
// reminded.
var DefaultReminders = []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour}

// expiredNoticeWindow bounds how late an expiry is still announced (a
// server that was down for a month does not mail about every expiry).
const expiredNoticeWindow = 7 * 24 * time.Hour

// Remind queues the reminders that are due: for each exemption with an
// expiry, the nearest reminder threshold passed (one notice per threshold,
// whatever how often Remind runs: the job key names it) and, once it
// expired, an expiry notice. Each carries a renewal link. It returns how
// many notices it queued.
func (s *Service) Remind(ctx context.Context) (int, error) {
	if s.Outbox == nil {
		return 0, nil
	}
	now := s.now()
	thresholds := slices.Clone(s.Reminders)
	if len(thresholds) == 0 {
		thresholds = slices.Clone(DefaultReminders)
	}
	slices.Sort(thresholds) // smallest first: the nearest passed wins
	queued := 0
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		queued = 0
		f := posture.ResourceFilter{Types: []string{strings.ToLower(exemption.Type)}, Limit: 1000}
		for {
			rs, err := tx.ListResources(f)
			if err != nil {
				return err
			}
			for _, res := range rs {
				n, err := s.remindOne(tx, res, thresholds, now)
				if err != nil {
					return err
				}
				queued += n
			}
			if len(rs) < f.Limit {
				return nil
			}
			f.After = rs[len(rs)-1].Key
		}
	})
	if err == nil && queued > 0 && s.Wake != nil {
		s.Wake()
	}
	return queued, err
}

func (s *Service) remindOne(tx posture.Tx, res *posture.Resource, thresholds []time.Duration, now time.Time) (int, error) {
	x, sd, err := exemption.FromDocument(res.Body)
	if err != nil {
		return 0, nil
	}
	var ev notify.Event
	var step string
	until, reason := x.ExpiresOn, ""
	switch left := x.ExpiresOn.Sub(now); {
	case x.Review.Pending() && now.Before(x.Review.GraceUntil):
		// One notice per review: the job key names when it began.
		ev, step = notify.EventExemptionNeedsReview, "review-"+x.Review.Since.UTC().Format("20060102T150405")
		until, reason = x.Review.GraceUntil, x.Review.Detail
	case x.ExpiresOn.IsZero():
		return 0, nil
	case left <= 0:
		if -left > expiredNoticeWindow {
			return 0, nil
		}
		ev, step = notify.EventExemptionExpired, "expired"
	default:
		for _, d := range thresholds {
			if left <= d {
				ev, step = notify.EventExemptionExpiring, strconv.Itoa(int(d/time.Hour))+"h"
				break
			}
		}
		if ev == "" {
			return 0, nil
		}
	}
	id := armid.MustParse(res.ID)
	var meta struct {
		RequestedBy string `json:"requestedBy"`
		Owner       string `json:"owner"`
		ApprovedBy  string `json:"approvedBy"`
		TicketRef   string `json:"ticketRef"`
		TicketURL   string `json:"ticketUrl"`
	}
	json.Unmarshal(x.Metadata, &meta)
	owner := meta.RequestedBy
	if owner == "" {
		owner = sd.CreatedBy
	}
	approver := meta.ApprovedBy
	if approver == "" {
		approver = sd.CreatedBy
	}
	m := &notify.Message{
		ID:             outbox.EventID("exemption", shortKey(res.Key), step, until.UTC().Format("20060102T150405")),
		Event:          ev,
		OccurredAt:     now,
		ExemptionID:    res.ID,
		Requester:      owner,
		Actor:          approver,
		Recommendation: x.DisplayName,
		Category:       notify.Category(x.Category),
		Justification:  x.Description,
		ExpiresOn:      until,
		Reason:         reason,
		Scope:          id.Scope().String(),
	}
	if m.Recommendation == "" {
		m.Recommendation = strings.Join(append([]string{x.PolicyAssignmentID}, x.PolicyDefinitionReferenceIDs...), " ")
	}
	if meta.TicketRef != "" && meta.TicketURL != "" {
		m.Ticket = &notify.TicketRef{Key: meta.TicketRef, URL: meta.TicketURL}
	}
	if s.Links != nil && s.Links.BaseURL != "" {
		m.Links.View = strings.TrimRight(s.Links.BaseURL, "/") + "/exemptions/view?id=" + urlEscape(res.ID)
		m.Links.Renew = s.Links.Make(LinkRenew, res.ID, now)
	}
	var subs []string
	if sub := id.SubscriptionID(); sub != "" {
		subs = []string{sub}
	}
	to, err := contactsOf(tx, subs)
	if err != nil {
		return 0, err
	}
	// The owner hears of it too when the exemption names one by address
	// (principals carry no e-mail address).
	for _, o := range []string{meta.Owner, meta.RequestedBy} {
		if a, err := mail.ParseAddress(o); err == nil && !slices.Contains(to, a.Address) {
			to = append(to, a.Address)
		}
	}
	m.Recipients = to
	jobs, err := s.Outbox.Jobs(m, res.Key, false)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	n, err := tx.EnqueueJobs(jobs)
	if n > 0 {
		return 1, err
	}
	return 0, err
}

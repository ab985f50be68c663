package requests

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/notify"
)

// exemptionVersion is the api-version the exemptions of an approval are
// written in.
const exemptionVersion = "2022-07-01-preview"

// Filed is what filing a request did.
type Filed struct {
	Resource *posture.Resource
	Created  bool
}

// File creates a request (or, while it is Pending, lets its requester
// replace it). The caller must be able to read every resource it names;
// the exemptions it asks for are checked as an exemption write would be
// (assignment, references, governance rules), so that approvers only see
// requests that can be approved.
func (s *Service) File(ctx context.Context, idText string, body []byte) (Filed, error) {
	id, err := ParseID(idText)
	if err != nil {
		return Filed{}, err
	}
	r, err := Parse(id, body)
	if err != nil {
		return Filed{}, err
	}
	return s.file(ctx, id, r, nil)
}

func (s *Service) file(ctx context.Context, id armid.ID, r *Request, link *LinkClaims) (Filed, error) {
	p := posture.PrincipalFromContext(ctx)
	targets := r.Targets(id)
	if err := s.mayRead(p, targets); err != nil {
		return Filed{}, err
	}
	if r.RenewalOf != "" {
		if err := s.mayRead(p, []armid.ID{armid.MustParse(r.RenewalOf)}); err != nil {
			return Filed{}, err
		}
	}
	if err := s.resolve(r); err != nil {
		return Filed{}, err
	}
	now := s.now()
	// Check every exemption the request asks for now, as its approval
	// will, so that a request that cannot be granted is refused at once.
	ps, err := plan(id, r)
	if err != nil {
		return Filed{}, err
	}
	for _, w := range writes(id, r, ps, nil) {
		if _, err := s.Exemptions.PreviewExemption(ctx, w); err != nil {
			return Filed{}, err
		}
	}
	r.Status = Pending
	r.RequestedBy = actorOf(p)
	r.RequestedAt = now
	timeout := s.DecisionTimeout
	if timeout <= 0 {
		timeout = 14 * 24 * time.Hour
	}
	r.DecisionDueAt = now.Add(timeout)
	var out Filed
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		if err := tx.Lock(id.Key()); err != nil {
			return err
		}
		if link != nil {
			if err := spend(tx, link, now); err != nil {
				return err
			}
		}
		old, oldR, err := load(tx, id)
		if err != nil && !posture.IsNotFound(err) {
			return err
		}
		created := now
		if old != nil {
			switch {
			case oldR.Status != Pending:
				return posture.Errorf(posture.ECONFLICT, "ExemptionRequestDecided", "The exemption request '%s' is %s; file a new one.", id, oldR.Status)
			case !strings.EqualFold(oldR.RequestedBy.PrincipalID, r.RequestedBy.PrincipalID):
				return posture.Errorf(posture.ECONFLICT, "ExemptionRequestExists", "An exemption request named '%s' already exists; choose another name.", id.Name())
			}
			r.RequestedAt, r.DecisionDueAt, r.Ticket, created = oldR.RequestedAt, oldR.DecisionDueAt, oldR.Ticket, old.CreatedAt
		}
		res := resource(id, r, created, now)
		if err := tx.PutResources([]*posture.Resource{res}); err != nil {
			return err
		}
		kind := posture.EventCreated
		if old != nil {
			kind = posture.EventUpdated
		}
		if err := tx.AppendEvent(s.event(ctx, id.Key(), kind, "write", old, res, now)); err != nil {
			return err
		}
		if old == nil {
			if err := s.notify(tx, id, r, notify.EventRequestCreated, now); err != nil {
				return err
			}
		}
		out = Filed{Resource: res, Created: old == nil}
		return nil
	})
	if err != nil {
		return Filed{}, err
	}
	s.committed(out.Resource)
	return out, nil
}

// committed tells the feed and the queue about a written request.
func (s *Service) committed(res *posture.Resource) {
	if s.Feed != nil {
		s.Feed.Publish(&posture.Change{Put: []*posture.Resource{res}})
	}
	if s.Wake != nil {
		s.Wake()
	}
}

// resolve fills in what the request's recommendation names.
func (s *Service) resolve(r *Request) error {
	if r.AssessmentKey == "" {
		return nil
	}
	if s.Recommendation == nil {
		return posture.Errorf(posture.EINVALID, "UnknownRecommendation", "Recommendations are not available; name policyAssignmentId instead.")
	}
	rec, ok := s.Recommendation(r.AssessmentKey)
	if !ok {
		return invalid("properties.assessmentKey", "'%s' is not the assessment key of a recommendation of the benchmark.", r.AssessmentKey)
	}
	r.RecommendationDisplayName, r.Severity = rec.DisplayName, rec.Severity
	r.PolicyDefinitionReferenceIDs = []string{rec.ReferenceID}
	return nil
}

// assignmentFor returns the assignment an exemption at target refers to.
func assignmentFor(r *Request, target armid.ID) (string, error) {
	if r.PolicyAssignmentID != "" {
		return r.PolicyAssignmentID, nil
	}
	sub := target.SubscriptionID()
	if sub == "" {
		return "", invalid("properties.policyAssignmentId", "A recommendation is exempted through its subscription's %s assignment; above subscriptions, name the policyAssignmentId.", DefaultAssignment)
	}
	return armid.SubscriptionScope(sub).Provider("Microsoft.Authorization", "policyAssignments", DefaultAssignment).String(), nil
}

// exemptionIDOf is where the exemption of a request for target lives: the
// exemption a renewal extends, else one named after the request.
func exemptionIDOf(id armid.ID, r *Request, target armid.ID) armid.ID {
	if r.RenewalOf != "" {
		return armid.MustParse(r.RenewalOf)
	}
	return target.Provider("Microsoft.Authorization", "policyExemptions", id.Name())
}

// planned is one exemption a request asks for: where it lives and the
// assignment it exempts from.
type planned struct {
	id         armid.ID
	assignment string
}

// plan lists the exemptions of a request: one per resource (or the scope),
// or the one exemption a renewal extends.
func plan(id armid.ID, r *Request) ([]planned, error) {
	targets := r.Targets(id)
	if r.RenewalOf != "" {
		targets = targets[:1]
	}
	out := make([]planned, len(targets))
	for i, t := range targets {
		a, err := assignmentFor(r, t)
		if err != nil {
			return nil, err
		}
		out[i] = planned{id: exemptionIDOf(id, r, t), assignment: a}
	}
	return out, nil
}

// writes are the exemption writes of a plan. approver is nil for the
// check at filing time.
func writes(id armid.ID, r *Request, ps []planned, approver *posture.Principal) []posture.ExemptionWrite {
	meta := map[string]any{"requestId": id.String(), "requestedBy": r.RequestedBy.PrincipalID}
	if approver != nil {
		meta["approvedBy"] = approver.ID
	}
	if r.TicketRef != "" {
		meta["ticketRef"] = r.TicketRef
	}
	if r.Ticket != nil {
		meta["ticketRef"] = r.Ticket.Key
		meta["ticketUrl"] = r.Ticket.URL
	}
	ws := make([]posture.ExemptionWrite, len(ps))
	for i, p := range ps {
		x := &exemption.Exemption{
			PolicyAssignmentID:           p.assignment,
			PolicyDefinitionReferenceIDs: r.PolicyDefinitionReferenceIDs,
			Category:                     exemption.Category(r.Category),
			DisplayName:                  displayName(id, r),
			Description:                  r.Justification,
			Metadata:                     mustJSON(meta),
		}
		if r.ExpiresOn != nil {
			x.ExpiresOn = *r.ExpiresOn
		}
		ws[i] = posture.ExemptionWrite{ID: p.id.String(), APIVersion: exemptionVersion,
			Body: exemption.Document(p.id.String(), p.id.Name(), x, exemption.SystemData{}, exemptionVersion)}
	}
	return ws
}

func displayName(id armid.ID, r *Request) string {
	what := r.RecommendationDisplayName
	if what == "" {
		what = strings.Join(r.PolicyDefinitionReferenceIDs, ", ")
	}
	if what == "" {
		what = "policy assignment"
	}
	n := fmt.Sprintf("Requested (%s): %s", id.Name(), what)
	if len(n) > 128 {
		n = n[:128]
	}
	return n
}

// Approve grants a pending request: its exemptions are created, the
// request becomes Approved and the notices are queued, in one transaction.
// The approver must not be the requester and must be allowed to write
// each exemption (policyExemptions/write and policyAssignments/exempt/
// action).
func (s *Service) Approve(ctx context.Context, idText, reason string) (*posture.Resource, error) {
	id, err := ParseID(idText)
	if err != nil {
		return nil, err
	}
	return s.approve(ctx, id, reason, nil)
}

func (s *Service) approve(ctx context.Context, id armid.ID, reason string, link *LinkClaims) (*posture.Resource, error) {
	p := posture.PrincipalFromContext(ctx)
	var snapshot *Request
	var etag string
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		if link != nil {
			// A spent link says so before anything else (it is spent
			// again, for good, in the write below).
			if err := spent(tx, link); err != nil {
				return err
			}
		}
		res, r, err := load(tx, id)
		if err == nil {
			snapshot, etag = r, res.ETag
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	ps, err := plan(id, snapshot)
	if err != nil {
		return nil, err
	}
	if err := s.mayDecide(p, id, snapshot, ps); err != nil {
		return nil, err
	}
	ws := writes(id, snapshot, ps, p)
	now := s.now()
	var out *posture.Resource
	_, err = s.Exemptions.PutExemptions(ctx, ws, func(tx posture.Tx, results []posture.ExemptionResult) error {
		if err := tx.Lock(id.Key()); err != nil {
			return err
		}
		old, r, err := load(tx, id)
		if err != nil {
			return err
		}
		if old.ETag != etag {
			return posture.Errorf(posture.ECONFLICT, "ExemptionRequestChanged", "The exemption request '%s' changed while it was being approved; try again.", id)
		}
		if link != nil {
			if err := spend(tx, link, now); err != nil {
				return err
			}
		}
		for i, res := range results {
			if !res.Created && r.RenewalOf == "" {
				return posture.Errorf(posture.ECONFLICT, "ExemptionExists", "An exemption '%s' already exists; the request was not approved.", ws[i].ID)
			}
			r.ExemptionIDs = append(r.ExemptionIDs, res.Resource.ID)
		}
		r.Status = Approved
		r.Decision = &Decision{By: actorOf(p), At: now, Reason: reason}
		out = resource(id, r, old.CreatedAt, now)
		if err := tx.PutResources([]*posture.Resource{out}); err != nil {
			return err
		}
		if err := tx.AppendEvent(s.event(ctx, id.Key(), posture.EventUpdated, "approve/action", old, out, now)); err != nil {
			return err
		}
		return s.notify(tx, id, r, notify.EventRequestApproved, now)
	})
	if err != nil {
		return nil, err
	}
	s.committed(out)
	return out, nil
}

// mayDecide checks the status and who decides.
func (s *Service) mayDecide(p *posture.Principal, id armid.ID, r *Request, ps []planned) error {
	if r.Status != Pending {
		return posture.Errorf(posture.ECONFLICT, "ExemptionRequestNotPending", "The exemption request '%s' is %s, not Pending.", id, r.Status)
	}
	if !s.now().Before(r.DecisionDueAt) {
		return posture.Errorf(posture.ECONFLICT, "ExemptionRequestNotPending", "The exemption request '%s' expired at %s without a decision.", id, r.DecisionDueAt.Format(time.RFC3339))
	}
	if p == nil || strings.EqualFold(p.ID, r.RequestedBy.PrincipalID) {
		return posture.Errorf(posture.EFORBIDDEN, "SelfApprovalNotAllowed", "The requester of '%s' cannot decide it; another approver must.", id)
	}
	for _, x := range ps {
		if err := s.Authz.AuthorizeExemptionWrite(p, x.id.String(), x.assignment); err != nil {
			return err
		}
	}
	return nil
}

// Reject refuses a pending request with a reason. The same people who may
// approve it may reject it.
func (s *Service) Reject(ctx context.Context, idText, reason string) (*posture.Resource, error) {
	id, err := ParseID(idText)
	if err != nil {
		return nil, err
	}
	return s.reject(ctx, id, reason, nil)
}

func (s *Service) reject(ctx context.Context, id armid.ID, reason string, link *LinkClaims) (*posture.Resource, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, invalid("reason", "A rejection needs a reason.")
	}
	if len(reason) > MaxJustification {
		return nil, invalid("reason", "The reason is longer than %d characters.", MaxJustification)
	}
	p := posture.PrincipalFromContext(ctx)
	return s.transition(ctx, id, "reject/action", func(tx posture.Tx, r *Request, now time.Time) (notify.Event, error) {
		if link != nil {
			if err := spend(tx, link, now); err != nil {
				return "", err
			}
		}
		ps, err := plan(id, r)
		if err != nil {
			return "", err
		}
		if err := s.mayDecide(p, id, r, ps); err != nil {
			return "", err
		}
		r.Status = Rejected
		r.Decision = &Decision{By: actorOf(p), At: now, Reason: reason}
		return notify.EventRequestRejected, nil
	})
}

// Withdraw lets the requester take a pending request back.
func (s *Service) Withdraw(ctx context.Context, idText string) (*posture.Resource, error) {
	id, err := ParseID(idText)
	if err != nil {
		return nil, err
	}
	p := posture.PrincipalFromContext(ctx)
	return s.transition(ctx, id, "withdraw/action", func(tx posture.Tx, r *Request, now time.Time) (notify.Event, error) {
		if r.Status != Pending {
			return "", posture.Errorf(posture.ECONFLICT, "ExemptionRequestNotPending", "The exemption request '%s' is %s, not Pending.", id, r.Status)
		}
		if p == nil || !strings.EqualFold(p.ID, r.RequestedBy.PrincipalID) {
			return "", posture.Errorf(posture.EFORBIDDEN, "NotRequester", "Only the requester may withdraw '%s'.", id)
		}
		r.Status = Withdrawn
		r.Decision = &Decision{By: actorOf(p), At: now}
		return "", nil
	})
}

// transition changes a request in one transaction; change returns the
// event to notify ("" for none).
func (s *Service) transition(ctx context.Context, id armid.ID, action string, change func(tx posture.Tx, r *Request, now time.Time) (notify.Event, error)) (*posture.Resource, error) {
	now := s.now()
	var out *posture.Resource
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		if err := tx.Lock(id.Key()); err != nil {
			return err
		}
		old, r, err := load(tx, id)
		if err != nil {
			return err
		}
		ev, err := change(tx, r, now)
		if err != nil {
			return err
		}
		out = resource(id, r, old.CreatedAt, now)
		if err := tx.PutResources([]*posture.Resource{out}); err != nil {
			return err
		}
		if err := tx.AppendEvent(s.event(ctx, id.Key(), posture.EventUpdated, action, old, out, now)); err != nil {
			return err
		}
		if ev == "" {
			return nil
		}
		return s.notify(tx, id, r, ev, now)
	})
	if err != nil {
		return nil, err
	}
	s.committed(out)
	return out, nil
}

// ExpireDue expires the pending requests whose decision is overdue, page
// by page.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	now := s.now()
	sys := posture.NewContextWithPrincipal(ctx, nil)
	n := 0
	for f := (Filter{Status: Pending}); ; {
		page, err := s.List(ctx, f)
		if err != nil {
			return n, err
		}
		for _, res := range page.Resources {
			r, err := FromDocument(res.Body)
			if err != nil || now.Before(r.DecisionDueAt) {
				continue
			}
			_, err = s.transition(sys, armid.MustParse(res.ID), "expire/action", func(tx posture.Tx, r *Request, now time.Time) (notify.Event, error) {
				if r.Status != Pending || now.Before(r.DecisionDueAt) {
					return "", errSkip // decided meanwhile
				}
				r.Status = Expired
				return notify.EventRequestExpired, nil
			})
			if err == errSkip {
				continue
			}
			if err != nil {
				return n, err
			}
			n++
		}
		if page.Next == "" {
			return n, nil
		}
		f.After = page.Next
	}
}

var errSkip = posture.Errorf(posture.ECONFLICT, "Skipped", "skipped")

// TicketOpened stores the ticket opened for a request (outbox calls it).
func (s *Service) TicketOpened(ctx context.Context, idText string, t notify.Ticket) error {
	id, err := ParseID(idText)
	if err != nil {
		return err
	}
	sys := posture.NewContextWithPrincipal(ctx, nil)
	_, err = s.transition(sys, id, "ticket/action", func(tx posture.Tx, r *Request, now time.Time) (notify.Event, error) {
		if r.Ticket != nil {
			return "", errSkip
		}
		r.Ticket = &t
		return "", nil
	})
	if err == errSkip {
		return nil
	}
	return err
}

// TicketOf returns the ticket of a request, nil while none is open.
func (s *Service) TicketOf(ctx context.Context, idText string) (*notify.Ticket, error) {
	res, err := s.Get(ctx, idText)
	if err != nil {
		return nil, err
	}
	r, err := FromDocument(res.Body)
	if err != nil {
		return nil, err
	}
	return r.Ticket, nil
}

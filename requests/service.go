package requests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
	"github.com/posture/posture/outbox"
)

// Authorizer is what the service asks of package authz.
type Authorizer interface {
	Authorize(p *posture.Principal, action, scope string) error
	AuthorizeExemptionWrite(caller *posture.Principal, exemptionID, assignmentID string) error
}

// Recommendation is what a request shows of the recommendation it names.
type Recommendation struct {
	DisplayName string
	ReferenceID string // in the benchmark initiative
	Severity    string
}

// DefaultAssignment is the benchmark's assignment in every subscription,
// which Defender's portal exempts from.
const DefaultAssignment = "SecurityCenterBuiltIn"

// Service manages exemption requests.
type Service struct {
	Store      posture.Store
	Exemptions posture.ExemptionService
	Authz      Authorizer
	// Recommendation resolves an assessment key (defender.Catalog).
	Recommendation func(key string) (Recommendation, bool)
	Outbox         *outbox.Outbox
	Links          *Linker
	// Feed hears of the requests written, for the Resource Graph tables.
	Feed posture.ChangeFeed
	// Wake tells the queue that jobs were enqueued.
	Wake func()
	Now  posture.Clock
	// DecisionTimeout is how long a request waits for a decision before
	// it expires (default 14 days).
	DecisionTimeout time.Duration
	// Reminders are how long before an exemption's expiry its owner and
	// approver are reminded (default 30, 7 and 1 days).
	Reminders []time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// ParseID checks a request id.
func ParseID(text string) (armid.ID, error) {
	id, err := armid.Parse(text)
	if err != nil {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "'%s' is not a valid id: %v.", text, err)
	}
	if !strings.EqualFold(id.Type(), Type) {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceType", "'%s' is not an exemption request id.", text)
	}
	if err := validName(id.Name()); err != nil {
		return armid.ID{}, err
	}
	return id, nil
}

func validName(n string) error {
	if n == "" || len(n) > 64 {
		return posture.Errorf(posture.EINVALID, "InvalidName", "A request name has 1 to 64 characters.")
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return posture.Errorf(posture.EINVALID, "InvalidName", "A request name has letters, digits, '-', '_' and '.' only.")
		}
	}
	return nil
}

func notFound(id armid.ID) error {
	return posture.Errorf(posture.ENOTFOUND, "ExemptionRequestNotFound", "The exemption request '%s' was not found.", id)
}

func actorOf(p *posture.Principal) Actor {
	if p == nil {
		return Actor{PrincipalID: posture.SystemActor}
	}
	return Actor{PrincipalID: p.ID, PrincipalType: p.Type, DisplayName: p.DisplayName}
}

// resource builds the stored resource of a request.
func resource(id armid.ID, r *Request, created, now time.Time) *posture.Resource {
	body := Document(id, r)
	sum := sha256.Sum256(body)
	return &posture.Resource{
		ID: id.String(), Key: id.Key(), Type: Type, Name: id.Name(),
		SubscriptionID: strings.ToLower(id.SubscriptionID()), ResourceGroup: strings.ToLower(id.ResourceGroup()),
		ParentKey: id.Scope().Key(), Body: body, ETag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		CreatedAt: created, ChangedAt: now,
	}
}

func (s *Service) event(ctx context.Context, key, kind, action string, before, after *posture.Resource, now time.Time) *posture.Event {
	who, typ := posture.ActorFromContext(ctx)
	e := &posture.Event{Stream: key, Kind: kind, Actor: who, ActorType: typ, At: now,
		Action: "Microsoft.Security/exemptionRequests/" + action, Scope: key}
	if before != nil {
		e.Before = before.Body
	}
	if after != nil {
		e.After = after.Body
	}
	return e
}

// Get returns a request.
func (s *Service) Get(ctx context.Context, idText string) (*posture.Resource, error) {
	id, err := ParseID(idText)
	if err != nil {
		return nil, err
	}
	var r *posture.Resource
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		r, err = tx.Resource(id.Key())
		return err
	})
	if posture.IsNotFound(err) {
		return nil, notFound(id)
	}
	return r, err
}

// load reads a request inside tx.
func load(tx posture.Tx, id armid.ID) (*posture.Resource, *Request, error) {
	res, err := tx.Resource(id.Key())
	if posture.IsNotFound(err) {
		return nil, nil, notFound(id)
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := FromDocument(res.Body)
	if err != nil {
		return nil, nil, posture.Internal(err)
	}
	return res, r, nil
}

// Filter selects requests for a list.
type Filter struct {
	Scope  string // lower-case key: requests at or under it
	Status string // "" for all
	After  string
	Limit  int
}

// List returns a page of requests at or under a scope.
func (s *Service) List(ctx context.Context, f Filter) (posture.ResourcePage, error) {
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var page posture.ResourcePage
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		after := f.After
		for len(page.Resources) < limit {
			rs, err := tx.ListResources(posture.ResourceFilter{Under: f.Scope, Types: []string{strings.ToLower(Type)}, After: after, Limit: limit})
			if err != nil {
				return err
			}
			for _, res := range rs {
				if f.Status != "" {
					r, err := FromDocument(res.Body)
					if err != nil || !strings.EqualFold(r.Status, f.Status) {
						continue
					}
				}
				page.Resources = append(page.Resources, res)
				if len(page.Resources) == limit {
					page.Next = res.Key
					return nil
				}
			}
			if len(rs) < limit {
				return nil
			}
			after = rs[len(rs)-1].Key
		}
		return nil
	})
	return page, err
}

// readAction is the action that reads the thing at id.
func readAction(id armid.ID) (string, error) {
	p, err := armid.ParsePath(id.String())
	if err != nil {
		return "", err
	}
	return authz.ActionFor(http.MethodGet, p)
}

// mayRead checks that p may read every target of a request: who may see a
// resource may ask for it to be exempted.
func (s *Service) mayRead(p *posture.Principal, targets []armid.ID) error {
	for _, t := range targets {
		action, err := readAction(t)
		if err != nil {
			return posture.Errorf(posture.EINVALID, "InvalidResourceId", "'%s': %v.", t, err)
		}
		if err := s.Authz.Authorize(p, action, t.String()); err != nil {
			return err
		}
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func urlEscape(s string) string { return url.QueryEscape(s) }

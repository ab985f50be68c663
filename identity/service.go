// Package identity keeps who may do what: principals (users, groups and
// service principals) with their group memberships, custom role definitions
// and role assignments. Its exported methods own their transactions, append
// every change to the audit ledger in the same transaction, and keep the
// live authz.Authorizer in step with the store.
//
// The Authorizer is the in-memory view every request is checked against;
// the store is the truth. A change is validated against the Authorizer,
// committed to the store, then applied to the Authorizer, all under one
// mutex so that the two never disagree about the order of changes.
package identity

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
)

// Service keeps principals, roles and role assignments.
type Service struct {
	Store posture.Store
	Authz *authz.Authorizer
	Now   posture.Clock

	mu   sync.Mutex // serialises changes: store first, then the Authorizer
	hier authz.Hierarchy
	// tokenGroups are the groups identity-provider tokens gave principals
	// (lower-case principal id -> sorted lower-case ids joined by "\n").
	tokenGroups map[string]string
}

// Load reads every custom role, role assignment and group membership from
// the store and returns a Service with a fresh Authorizer over them. h
// places subscriptions under management groups.
func Load(ctx context.Context, store posture.Store, h authz.Hierarchy, now posture.Clock) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	data, err := loadData(ctx, store)
	if err != nil {
		return nil, err
	}
	return &Service{Store: store, Authz: authz.New(data, h), Now: now, hier: h}, nil
}

// Reload rebuilds the Authorizer from the store, for a replica that learns
// that another one changed roles.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(ctx)
}

func loadData(ctx context.Context, store posture.Store) (authz.Data, error) {
	var d authz.Data
	err := store.Read(ctx, func(tx posture.Tx) error {
		docs, err := tx.RoleDefinitionDocs()
		if err != nil {
			return err
		}
		for _, doc := range docs {
			var def authz.RoleDefinition
			if err := json.Unmarshal(doc, &def); err != nil {
				return posture.Internal(err)
			}
			d.RoleDefinitions = append(d.RoleDefinitions, def)
		}
		ras, err := tx.AllRoleAssignments()
		if err != nil {
			return err
		}
		for _, ra := range ras {
			d.RoleAssignments = append(d.RoleAssignments, *ra)
		}
		d.Memberships, err = tx.Memberships()
		return err
	})
	return d, err
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// event builds the ledger entry of a change by the caller of ctx.
func event(ctx context.Context, kind, action, id string, before, after json.RawMessage, at time.Time) *posture.Event {
	who, typ := posture.ActorFromContext(ctx)
	return &posture.Event{Kind: kind, Actor: who, ActorType: typ, At: at, Action: action, Scope: id, Before: before, After: after}
}

func (s *Service) hierarchy() authz.Hierarchy { return s.hier }

const (
	subscriptionsPrefix = "/subscriptions/"
	mgPrefix            = "/providers/microsoft.management/managementgroups/"
)

// containerOf returns the key of the subscription or management group at
// the top of id, "" for the root and tenant-level ids.
func containerOf(id armid.ID) string {
	return containerKey(id.Key())
}

func containerKey(key string) string {
	for _, prefix := range []string{subscriptionsPrefix, mgPrefix} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return key[:len(prefix)+i]
			}
			return key
		}
	}
	return ""
}

// underGroup reports whether the scope key lies under the management group
// groupKey through the hierarchy (a subscription in it, or anything in such
// a subscription or in a child group).
func (s *Service) underGroup(key, groupKey string) bool {
	if s.hier == nil || !strings.HasPrefix(groupKey, mgPrefix) {
		return false
	}
	c := containerKey(key)
	if c == "" || c == groupKey {
		return false
	}
	return slices.Contains(s.hier.Ancestors(c), groupKey)
}

// Package estate is the inventory of the cloud estate: management groups,
// subscriptions, resource groups and resources as ARM documents. It enforces
// ARM's containment rules (a resource needs its resource group, a child its
// parent), cascades deletes, pages lists and imports documents in bulk. It
// implements posture.ResourceService over a posture.Store.
package estate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// DefaultPageSize is the page size of lists when the caller sets none; ARM
// pages resource lists at 1,000.
const DefaultPageSize = 1000

// Service implements posture.ResourceService.
type Service struct {
	Store posture.Store
	Now   posture.Clock
	// TenantID names the tenant root management group, the default parent
	// of management groups and subscriptions.
	TenantID string
	// Observer keeps derived state (policy compliance) in step with each
	// write, inside its transaction. Without one, writes mark the derived
	// state stale, for the server to recompute when it starts.
	Observer posture.ChangeObserver
	// WriteMu serialises writes with the observer's in-memory updates;
	// share it with the observer.
	WriteMu posture.WriteLock
	// Feed receives each committed change (with what the observer added).
	Feed posture.ChangeFeed
}

// write runs fn in a write transaction and lets the observer follow the
// change it reports, in the same transaction.
func (s *Service) write(ctx context.Context, fn func(tx posture.Tx) (*posture.Change, error)) error {
	if s.WriteMu != nil {
		if err := s.WriteMu.Lock(ctx); err != nil {
			return err
		}
		defer s.WriteMu.Unlock()
	}
	var after func()
	var change *posture.Change
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		c, err := fn(tx)
		if err != nil || c == nil || len(c.Put) == 0 && len(c.Deleted) == 0 {
			return err
		}
		change = c
		if s.Observer == nil {
			return tx.PutSetting(posture.SettingComplianceStale, "1")
		}
		after, err = s.Observer.Changed(ctx, tx, c)
		return err
	})
	if err != nil {
		return err
	}
	if after != nil {
		after()
	}
	if s.Feed != nil && change != nil {
		s.Feed.Publish(change)
	}
	return nil
}

// managedTypes are documents with an API and semantics of their own: they
// are not estate inventory, and import refuses them.
var managedTypes = []string{
	"microsoft.authorization/policydefinitions", "microsoft.authorization/policysetdefinitions",
	"microsoft.authorization/policyassignments", "microsoft.authorization/policyexemptions",
	"microsoft.authorization/roleassignments", "microsoft.authorization/roledefinitions",
	"microsoft.security/exemptionrequests",
}

func checkManaged(r *posture.Resource) error {
	if slices.Contains(managedTypes, r.TypeKey()) {
		return posture.Errorf(posture.EINVALID, "ManagedResourceType", "'%s' documents are managed through their own API (PUT %s), not as estate documents.", r.Type, r.ID)
	}
	return nil
}

var _ posture.ResourceService = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// rootGroupKey returns the key of the tenant root management group.
func (s *Service) rootGroupKey() string {
	if s.TenantID == "" {
		return ""
	}
	return armid.ManagementGroupScope(s.TenantID).Key()
}

// GetResource implements posture.ResourceService.
func (s *Service) GetResource(ctx context.Context, idText string) (*posture.Resource, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	var r *posture.Resource
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		r, err = tx.Resource(id.Key())
		if posture.IsNotFound(err) {
			return s.missing(tx, id)
		}
		return err
	})
	return r, err
}

// missing explains why id is not found: ARM names the first missing
// container (subscription, resource group, parent) before the resource.
func (s *Service) missing(tx posture.Tx, id armid.ID) error {
	if sub := id.SubscriptionID(); sub != "" && id.Kind() != armid.Subscription {
		if _, err := tx.Resource(armid.SubscriptionScope(sub).Key()); posture.IsNotFound(err) {
			return notFound(armid.SubscriptionScope(sub))
		} else if err != nil {
			return err
		}
	}
	if rg := id.ResourceGroup(); rg != "" && id.Kind() == armid.Resource {
		scope := armid.ResourceGroupScope(id.SubscriptionID(), rg)
		if _, err := tx.Resource(scope.Key()); posture.IsNotFound(err) {
			return notFound(scope)
		} else if err != nil {
			return err
		}
	}
	return notFound(id)
}

// notFound returns ARM's not-found error for id.
func notFound(id armid.ID) error {
	switch id.Kind() {
	case armid.Subscription:
		return posture.Errorf(posture.ENOTFOUND, "SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID())
	case armid.ResourceGroup:
		return posture.Errorf(posture.ENOTFOUND, "ResourceGroupNotFound", "Resource group '%s' could not be found.", id.ResourceGroup())
	case armid.ManagementGroup:
		return posture.Errorf(posture.ENOTFOUND, "ManagementGroupNotFound", "The management group '%s' could not be found.", id.Name())
	}
	if id.ResourceGroup() != "" {
		return posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The Resource '%s' under resource group '%s' was not found.", resourceLabel(id), id.ResourceGroup())
	}
	return posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The Resource '%s' was not found.", id)
}

// resourceLabel is ARM's "{type}/{names}" label of a resource.
func resourceLabel(id armid.ID) string {
	return id.Namespace() + "/" + strings.TrimPrefix(id.Type(), id.Namespace()+"/") + "/" + id.FullName()
}

// PutResource implements posture.ResourceService.
func (s *Service) PutResource(ctx context.Context, r *posture.Resource, mode posture.PutMode, ifMatch string) (posture.PutResult, error) {
	id, err := parseID(r.ID)
	if err != nil {
		return posture.PutResult{}, err
	}
	if err := checkManaged(r); err != nil {
		return posture.PutResult{}, err
	}
	var res posture.PutResult
	err = s.write(ctx, func(tx posture.Tx) (*posture.Change, error) {
		if err := tx.Lock(r.Key); err != nil {
			return nil, err
		}
		old, err := tx.Resource(r.Key)
		if err != nil && !posture.IsNotFound(err) {
			return nil, err
		}
		if err := checkIfMatch(old, ifMatch); err != nil {
			return nil, err
		}
		var implied []*posture.Resource
		if mode == posture.PutStrict {
			err = s.checkContainers(tx, id, r)
		} else {
			implied, err = s.implied(tx, []*posture.Resource{r}, nil)
		}
		if err != nil {
			return nil, err
		}
		s.stamp(r, old)
		res = posture.PutResult{Resource: r, Created: old == nil}
		put := append(implied, r)
		return &posture.Change{Put: put}, tx.PutResources(put)
	})
	return res, err
}

// checkIfMatch applies an If-Match header to the current version.
func checkIfMatch(old *posture.Resource, ifMatch string) error {
	if ifMatch == "" {
		return nil
	}
	if old == nil {
		return posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The resource does not exist, so the If-Match condition '%s' cannot hold.", ifMatch)
	}
	if ifMatch != "*" && ifMatch != old.ETag {
		return posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The ETag '%s' does not match the current ETag '%s' of the resource.", ifMatch, old.ETag)
	}
	return nil
}

// checkContainers enforces ARM's rule that what holds a resource exists, and
// sets the management group parent of groups and subscriptions.
func (s *Service) checkContainers(tx posture.Tx, id armid.ID, r *posture.Resource) error {
	need := func(key string, err error) error {
		if _, e := tx.Resource(key); posture.IsNotFound(e) {
			return err
		} else {
			return e
		}
	}
	switch id.Kind() {
	case armid.ManagementGroup, armid.Subscription:
		if r.ParentKey == "" && r.Key != s.rootGroupKey() {
			r.ParentKey = s.rootGroupKey()
		}
		if r.ParentKey == r.Key {
			return posture.Errorf(posture.EINVALID, "InvalidParent", "A management group cannot be its own parent.")
		}
		if r.ParentKey != "" {
			parent := armid.MustParse(r.ParentKey)
			if err := need(r.ParentKey, notFound(parent)); err != nil {
				return err
			}
			if id.Kind() == armid.ManagementGroup {
				return s.checkNoCycle(tx, r.Key, r.ParentKey)
			}
		}
		return nil
	case armid.ResourceGroup:
		return need(id.Parent().Key(), notFound(id.Parent()))
	}
	sub := armid.SubscriptionScope(id.SubscriptionID())
	if err := need(sub.Key(), notFound(sub)); err != nil {
		return err
	}
	if rg := id.ResourceGroup(); rg != "" {
		scope := armid.ResourceGroupScope(id.SubscriptionID(), rg)
		if err := need(scope.Key(), notFound(scope)); err != nil {
			return err
		}
	}
	if parent := id.Parent(); parent.Kind() == armid.Resource {
		return need(parent.Key(), posture.Errorf(posture.ENOTFOUND, "ParentResourceNotFound",
			"Can not perform requested operation on nested resource. Parent resource '%s' not found.", parent.FullName()))
	}
	return nil
}

// checkNoCycle refuses to make a management group a descendant of itself.
func (s *Service) checkNoCycle(tx posture.Tx, key, parentKey string) error {
	for p, hops := parentKey, 0; p != "" && hops < 64; hops++ {
		if p == key {
			return posture.Errorf(posture.EINVALID, "InvalidParent", "The parent management group is a descendant of the group being moved.")
		}
		parent, err := tx.Resource(p)
		if posture.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		p = parent.ParentKey
	}
	return nil
}

// stamp sets the timestamps and ETag of a resource about to be written.
func (s *Service) stamp(r *posture.Resource, old *posture.Resource) {
	now := s.now()
	r.CreatedAt, r.ChangedAt = now, now
	if old != nil {
		r.CreatedAt = old.CreatedAt
	}
	sum := sha256.Sum256(r.Body)
	r.ETag = `"` + hex.EncodeToString(sum[:8]) + `"`
}

// DeleteResource implements posture.ResourceService.
func (s *Service) DeleteResource(ctx context.Context, idText, ifMatch string) (bool, error) {
	id, err := parseID(idText)
	if err != nil {
		return false, err
	}
	if id.Kind() == armid.Subscription {
		return false, posture.Errorf(posture.EINVALID, "OperationNotAllowed", "Subscriptions are not deleted through this API.")
	}
	var deleted bool
	err = s.write(ctx, func(tx posture.Tx) (*posture.Change, error) {
		if err := tx.Lock(id.Key()); err != nil {
			return nil, err
		}
		old, err := tx.Resource(id.Key())
		if posture.IsNotFound(err) {
			if ifMatch != "" && ifMatch != "*" {
				return nil, checkIfMatch(nil, ifMatch)
			}
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch(old, ifMatch); err != nil {
			return nil, err
		}
		if err := checkManaged(old); err != nil {
			return nil, err
		}
		if id.Kind() == armid.ManagementGroup {
			n, err := tx.CountResources(posture.ResourceFilter{Parent: id.Key()})
			if err != nil {
				return nil, err
			}
			if n > 0 {
				return nil, posture.Errorf(posture.ECONFLICT, "ManagementGroupHasChildren", "The management group '%s' has %d children; move or delete them first.", id.Name(), n)
			}
		}
		deleted = true
		_, err = tx.DeleteResources(id.Key())
		return &posture.Change{Deleted: []string{id.Key()}}, err
	})
	return deleted, err
}

// ListResources implements posture.ResourceService.
func (s *Service) ListResources(ctx context.Context, f posture.ResourceFilter) (posture.ResourcePage, error) {
	limit := f.Limit
	if limit <= 0 || limit > DefaultPageSize {
		limit = DefaultPageSize
	}
	f.Limit = limit + 1
	var page posture.ResourcePage
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		rs, err := tx.ListResources(f)
		if err != nil {
			return err
		}
		if len(rs) > limit {
			rs = rs[:limit]
			page.Next = rs[limit-1].Key
		}
		page.Resources = rs
		return nil
	})
	return page, err
}

// ImportResources implements posture.ResourceService.
func (s *Service) ImportResources(ctx context.Context, rs []*posture.Resource) (posture.ImportSummary, error) {
	sum := posture.ImportSummary{Read: len(rs)}
	// The last document of a key wins, as if they had been PUT in order.
	byKey := make(map[string]int, len(rs))
	batch := make([]*posture.Resource, 0, len(rs))
	for i, r := range rs {
		if err := checkManaged(r); err != nil {
			sum.Rejected = append(sum.Rejected, &posture.ImportRejected{Index: i, ID: r.ID, Code: posture.ErrorCode(err), Message: err.(*posture.Error).Message})
			continue
		}
		if i, ok := byKey[r.Key]; ok {
			batch[i] = r
			continue
		}
		byKey[r.Key] = len(batch)
		batch = append(batch, r)
	}
	err := s.write(ctx, func(tx posture.Tx) (*posture.Change, error) {
		keys := make([]string, len(batch))
		for i, r := range batch {
			keys[i] = r.Key
		}
		old, err := tx.Resources(keys)
		if err != nil {
			return nil, err
		}
		implied, err := s.implied(tx, batch, old)
		if err != nil {
			return nil, err
		}
		for _, r := range batch {
			if r.ParentKey == "" && (strings.HasPrefix(r.Key, "/subscriptions/") || strings.HasPrefix(r.Key, "/providers/microsoft.management/")) && r.Key != s.rootGroupKey() {
				r.ParentKey = s.rootGroupKey()
			}
			prev := old[r.Key]
			s.stamp(r, prev)
			if prev == nil {
				sum.Created++
			} else {
				sum.Updated++
			}
		}
		sum.Implied = len(implied)
		put := append(implied, batch...)
		return &posture.Change{Put: put}, tx.PutResources(put)
	})
	if err != nil {
		return posture.ImportSummary{}, err
	}
	return sum, nil
}

// implied returns the subscriptions and resource groups that documents of
// batch live in but that exist neither in the batch nor in the store, built
// as minimal documents. known maps keys already looked up to their rows.
func (s *Service) implied(tx posture.Tx, batch []*posture.Resource, known map[string]*posture.Resource) ([]*posture.Resource, error) {
	inBatch := make(map[string]bool, len(batch))
	for _, r := range batch {
		inBatch[r.Key] = true
	}
	want := map[string]*posture.Resource{}
	var order []string
	for _, r := range batch {
		id, err := armid.Parse(r.ID)
		if err != nil || id.SubscriptionID() == "" {
			continue
		}
		sub := armid.SubscriptionScope(id.SubscriptionID())
		if !inBatch[sub.Key()] && want[sub.Key()] == nil {
			c := armdoc.ImpliedSubscription(id.SubscriptionID())
			c.ParentKey = s.rootGroupKey()
			want[sub.Key()] = c
			order = append(order, sub.Key())
		}
		if rg := id.ResourceGroup(); rg != "" && id.Kind() != armid.ResourceGroup {
			scope := armid.ResourceGroupScope(id.SubscriptionID(), rg)
			if !inBatch[scope.Key()] && want[scope.Key()] == nil {
				want[scope.Key()] = armdoc.ImpliedResourceGroup(id.SubscriptionID(), rg, r.Location)
				order = append(order, scope.Key())
			}
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	var missing []string
	for _, k := range order {
		if known == nil || known[k] == nil {
			missing = append(missing, k)
		}
	}
	existing, err := tx.Resources(missing)
	if err != nil {
		return nil, err
	}
	var out []*posture.Resource
	for _, k := range order {
		if existing[k] != nil || (known != nil && known[k] != nil) {
			continue
		}
		r := want[k]
		s.stamp(r, nil)
		out = append(out, r)
	}
	return out, nil
}

// parseID parses an id from a caller, as a coded error.
func parseID(s string) (armid.ID, error) {
	id, err := armid.Parse(s)
	if err != nil {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	return id, nil
}

// Describe is a one-line summary of an import for logs and the CLI.
func Describe(s posture.ImportSummary) string {
	return fmt.Sprintf("%d read, %d created, %d updated, %d implied containers, %d rejected",
		s.Read, s.Created, s.Updated, s.Implied, len(s.Rejected))
}

// EnsureTenant returns the store's tenant id. On first use it records want
// (or a new GUID when want is empty) and creates the tenant root management
// group, the top of the hierarchy, named after the tenant.
func (s *Service) EnsureTenant(ctx context.Context, want string) (string, error) {
	var tenant string
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		var err error
		if tenant, err = tx.Setting("tenant_id"); err != nil || tenant != "" {
			return err
		}
		tenant = want
		if tenant == "" {
			tenant = uuid.NewString()
		}
		if err := tx.PutSetting("tenant_id", tenant); err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]any{
			"id":   armid.ManagementGroupScope(tenant).String(),
			"type": armid.ManagementGroupType,
			"name": tenant,
			"properties": map[string]any{
				"tenantId":    tenant,
				"displayName": "Tenant Root Group",
				"details":     map[string]any{"version": 1},
			},
		})
		root, err := armdoc.Normalize(body)
		if err != nil {
			return err
		}
		s.stamp(root, nil)
		return tx.PutResources([]*posture.Resource{root})
	})
	if err == nil {
		s.TenantID = tenant
	}
	return tenant, err
}

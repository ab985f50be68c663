// Package compliance keeps the compliance of the estate with its policy
// assignments current. It holds custom definitions, initiatives and
// assignments (as ARM documents in the store), compiles assignments with
// package policy, evaluates every resource they cover, and stores one
// policy state per (resource, assignment, definition reference). Changes to
// the estate are evaluated inside the transaction that makes them, so
// every read after a write sees its effect. Policy exemptions live here
// too, because they are part of a state: each state is stamped with the
// exemption covering it, in the transaction that writes either.
package compliance

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/policy"
)

// Types of the policy objects the service manages.
const (
	DefinitionType    = "Microsoft.Authorization/policyDefinitions"
	SetDefinitionType = "Microsoft.Authorization/policySetDefinitions"
	AssignmentType    = "Microsoft.Authorization/policyAssignments"
)

// Service implements posture.PolicyService and posture.ChangeObserver.
type Service struct {
	Store posture.Store
	// Registry holds the built-in definitions (and those of --policies);
	// Start adds the custom ones from the store.
	Registry *policy.Registry
	Now      posture.Clock
	Logger   *slog.Logger
	// WriteMu serialises the writes of this service with the estate's, so
	// that in-memory indexes are updated in commit order. Share it with
	// estate.Service.
	WriteMu posture.WriteLock
	// DefaultAssignment assigns the Microsoft cloud security benchmark as
	// SecurityCenterBuiltIn to every subscription that appears.
	DefaultAssignment bool
	// Feed receives what the service's own writes committed.
	Feed posture.ChangeFeed
	// Rules are the governance rules every exemption write must keep.
	Rules exemption.Rules
	// Severity returns the highest severity among the recommendations an
	// exemption of an assignment covers (references nil: all of them), ""
	// when none is known; the rules limit durations by it.
	Severity func(assignmentKey string, referenceIDs []string) string
	// HierarchyChanged, when set, is called after a change that may have
	// moved a subscription or management group (authorization caches
	// ancestors).
	HierarchyChanged func()
	// FilterWarnShare is the share of the resources an exemption could
	// cover above which its resource filter draws a warning (0: the
	// default, DefaultFilterWarnShare).
	FilterWarnShare float64
	// ReviewGrace is how long an exemption that went to review stays
	// honoured (0: DefaultReviewGrace).
	ReviewGrace time.Duration
	// EvalJobs says how large scopes are evaluated (evaljobs.go).
	EvalJobs EvalJobs
	// OnEvaluate, when set, is told of each evaluation once it ends: its
	// kind (EvaluateWrite, EvaluateAssignment), the resources it evaluated
	// and how long it took (metrics, traces).
	OnEvaluate func(ctx context.Context, kind string, resources int, d time.Duration)

	mu          sync.RWMutex
	hier        *hierarchy
	related     *relatedIndex
	kept        map[string]nameSet // related types the index keeps, and which of their documents
	assignments map[string]*assignment
	exemptions  *exemptIndex
	// due is the earliest expiry not yet recorded (unix nanoseconds; 0 for
	// none): read paths compare the clock with it.
	due atomic.Int64
	// wake tells the expiry job that due moved.
	wake chan struct{}
}

var (
	_ posture.PolicyService  = (*Service)(nil)
	_ posture.ChangeObserver = (*Service)(nil)
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// staleSetting marks a store whose estate changed without evaluation (an
// offline import): the next Start re-evaluates everything.
const staleSetting = posture.SettingComplianceStale

// Start loads custom definitions, initiatives and assignments, the
// management group hierarchy and the related documents, and re-evaluates
// what is stale.
func (s *Service) Start(ctx context.Context) error {
	if s.WriteMu == nil {
		s.WriteMu = &posture.LocalWriteLock{}
	}
	hier := newHierarchy()
	assignments := map[string]*assignment{}
	var stale bool
	var exemptions *exemptIndex
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		if err := s.loadObjects(tx, DefinitionType, func(r *posture.Resource) error { return s.registerDefinition(r) }); err != nil {
			return err
		}
		if err := s.loadObjects(tx, SetDefinitionType, func(r *posture.Resource) error { return s.registerSet(r) }); err != nil {
			return err
		}
		if err := s.loadObjects(tx, AssignmentType, func(r *posture.Resource) error {
			a, err := s.compile(r)
			if err != nil {
				s.log().Warn("policy assignment does not compile; it is not evaluated", "assignment", r.ID, "err", err)
				return nil
			}
			assignments[a.key] = a
			return nil
		}); err != nil {
			return err
		}
		for _, typ := range []string{armid.ManagementGroupType, armid.SubscriptionType} {
			if err := eachResource(tx, posture.ResourceFilter{Types: []string{typ}}, func(r *posture.Resource) error {
				hier.apply(r)
				return nil
			}); err != nil {
				return err
			}
		}
		v, err := tx.Setting(staleSetting)
		if err != nil {
			return err
		}
		stale = v != ""
		exemptions, err = s.loadExemptions(tx)
		return err
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.hier, s.assignments, s.related, s.kept = hier, assignments, newRelatedIndex(), map[string]nameSet{}
	s.exemptions = exemptions
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	s.mu.Unlock()
	s.setDue()
	if err := s.loadRelated(ctx, relatedTypes(assignments)); err != nil {
		return err
	}
	if err := s.assignDefaults(ctx, !stale); err != nil {
		return err
	}
	if stale {
		s.log().Info("the estate changed while posture was not evaluating it; re-evaluating every assignment")
		if err := s.reevaluateAll(ctx); err != nil {
			return err
		}
	}
	return nil
}

// assignDefaults gives the subscriptions that lack it the benchmark
// assignment (they appeared while nothing evaluated, e.g. by an offline
// import), evaluating it when evaluate is set.
func (s *Service) assignDefaults(ctx context.Context, evaluate bool) error {
	if !s.DefaultAssignment {
		return nil
	}
	if err := s.WriteMu.Lock(ctx); err != nil {
		return err
	}
	defer s.WriteMu.Unlock()
	_, hier, related, kept := s.snapshot()
	created := map[string]*assignment{}
	c := &posture.Change{}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		for key := range hier.parent {
			if !strings.HasPrefix(key, "/subscriptions/") {
				continue
			}
			sub, err := tx.Resource(key)
			if err != nil {
				return err
			}
			a, doc, err := s.ensureDefaultAssignment(tx, sub, s.now())
			if err != nil || a == nil {
				return err
			}
			created[a.key] = a
			c.Put = append(c.Put, doc)
			if evaluate {
				if err := s.evaluateAssignment(ctx, tx, a, hier, &lookup{tx: tx, base: related, kept: kept}, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || len(created) == 0 {
		return err
	}
	s.installAssignments(ctx, created, nil)
	s.publish(c)
	return nil
}

// loadObjects calls fn for every stored document of a policy type.
func (s *Service) loadObjects(tx posture.Tx, typ string, fn func(*posture.Resource) error) error {
	return eachResource(tx, posture.ResourceFilter{Types: []string{typ}}, fn)
}

// eachResource pages through the resources f selects.
func eachResource(tx posture.Tx, f posture.ResourceFilter, fn func(*posture.Resource) error) error {
	f.Limit = 1000
	for {
		rs, err := tx.ListResources(f)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rs) < f.Limit {
			return nil
		}
		f.After = rs[len(rs)-1].Key
	}
}

// relatedTypes returns the related types the existence checks of the
// assignments read, lower case, with the names they read (nil: any).
func relatedTypes(as map[string]*assignment) map[string]nameSet {
	types := map[string]nameSet{}
	for _, a := range as {
		for _, ref := range a.compiled.References {
			if rel := ref.Facts.Related; rel != nil && rel.Type != "" && indexedType(rel.Type, rel.Scope) {
				names, seen := types[rel.Type]
				types[rel.Type] = names.with(rel.Name, seen)
			}
		}
	}
	return types
}

// loadRelated adds the documents of new related types to the index.
func (s *Service) loadRelated(ctx context.Context, types map[string]nameSet) error {
	s.mu.RLock()
	var missing []string
	want := map[string]nameSet{}
	for t, names := range types {
		have, ok := s.kept[t]
		if !ok || !have.covers(names) {
			missing = append(missing, t)
			if ok {
				names = have.union(names)
			}
			want[t] = names
		}
	}
	s.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	var loaded []*relatedDoc
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		return eachResource(tx, posture.ResourceFilter{Types: missing, KeysOnly: true}, func(r *posture.Resource) error {
			if keeps(want, r.TypeKey(), r.Key) {
				loaded = append(loaded, docOf(r))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := maps.Clone(s.kept) // lookups may hold the old one
	maps.Copy(kept, want)
	s.kept = kept
	for _, d := range loaded {
		s.related.put(d)
	}
	return nil
}

// snapshot returns the current assignments, hierarchy and lookup base.
func (s *Service) snapshot() (map[string]*assignment, *hierarchy, *relatedIndex, map[string]nameSet) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.assignments, s.hier, s.related, s.kept
}

// compile compiles a stored assignment document.
func (s *Service) compile(r *posture.Resource) (*assignment, error) {
	pa, err := policy.ParseAssignment(r.Body)
	if err != nil {
		return nil, err
	}
	id, err := armid.Parse(r.ID)
	if err != nil {
		return nil, err
	}
	pa.ID, pa.Name, pa.Scope = id.String(), id.Name(), id.Scope().String()
	ca, err := policy.Compile(pa, s.Registry)
	if err != nil {
		return nil, err
	}
	return newAssignment(r.Key, id.Scope().Key(), ca), nil
}

// sortedAssignments returns the assignments in key order, for stable work.
func sortedAssignments(m map[string]*assignment) []*assignment {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b *assignment) int { return strings.Compare(a.key, b.key) })
	return out
}

// evaluatedTypes returns the stored type keys an assignment can evaluate,
// or nil when some reference matches any type.
func evaluatedTypes(a *assignment) []string {
	seen := map[string]bool{}
	for _, ref := range a.compiled.References {
		if ref.Facts.AnyType || len(ref.Facts.TypePatterns) > 0 && len(ref.Facts.Types) == 0 {
			return nil
		}
		for _, t := range ref.Facts.Types {
			seen[t] = true
			// Azure Policy names resource groups by their id path; posture
			// stores them as ARM's GET returns them.
			if t == "microsoft.resources/subscriptions/resourcegroups" {
				seen[strings.ToLower(armid.ResourceGroupType)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	return out
}

// publish hands a committed change to the feed.
func (s *Service) publish(c *posture.Change) {
	if s.Feed != nil && c != nil {
		s.Feed.Publish(c)
	}
}

// evaluateAssignment evaluates every resource an assignment covers and
// replaces its states: pairs it no longer yields are deleted. What it writes
// is recorded in c. With EvalJobs.Queue, the evaluation of a scope larger
// than a chunk is queued instead (evaljobs.go): c gets none of it.
func (s *Service) evaluateAssignment(ctx context.Context, tx posture.Tx, a *assignment, hier *hierarchy, l *lookup, c *posture.Change) error {
	e := s.newEvaluation(ctx, tx, hier, l, c)
	defer s.observe(ctx, EvaluateAssignment, e, time.Now())
	if queued, err := s.queueIfLarge(tx, a, hier); err != nil || queued {
		return err
	}
	_, _, err := s.evaluateRange(e, a, "", "", 0, time.Time{})
	return err
}

// eachPage pages through the resources f selects, a page at a time.
func eachPage(tx posture.Tx, f posture.ResourceFilter, fn func([]*posture.Resource) error) error {
	f.Limit = 1000
	for {
		rs, err := tx.ListResources(f)
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			if err := fn(rs); err != nil {
				return err
			}
		}
		if len(rs) < f.Limit {
			return nil
		}
		f.After = rs[len(rs)-1].Key
	}
}

// reevaluateAll re-evaluates every assignment, a chunk of resources per
// transaction (or, with EvalJobs.Queue, queues the evaluation of the large
// ones), and clears the stale mark.
func (s *Service) reevaluateAll(ctx context.Context) error {
	if err := s.WriteMu.Lock(ctx); err != nil {
		return err
	}
	defer s.WriteMu.Unlock()
	as, hier, related, kept := s.snapshot()
	for _, a := range sortedAssignments(as) {
		start := time.Now()
		queued := false
		var err error
		if s.EvalJobs.Queue {
			err = s.Store.Write(ctx, func(tx posture.Tx) error {
				queued, err = s.queueIfLarge(tx, a, hier)
				return err
			})
		}
		if err == nil && !queued {
			err = s.reevaluateChunked(ctx, a, hier, related, kept)
		}
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", a.key, err)
		}
		if queued {
			s.log().Info("assignment evaluation queued", "assignment", a.key)
		} else {
			s.log().Info("assignment evaluated", "assignment", a.key, "duration_ms", time.Since(start).Milliseconds())
		}
	}
	return s.Store.Write(ctx, func(tx posture.Tx) error { return tx.PutSetting(staleSetting, "") })
}

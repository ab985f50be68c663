// Package graph is posture's Azure Resource Graph: it keeps the estate, the
// policy objects and the policy states as rows of ARG's tables (Resources,
// ResourceContainers, SecurityResources, PolicyResources,
// AuthorizationResources) in the in-memory KQL engine, updated from the
// change feed as writes commit, and answers KQL queries over them with
// ARG's paging, formats, facets and errors. It implements
// posture.GraphService and posture.ChangeFeed.
package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/kql"
	"github.com/posture/posture/policy"
)

// Service implements posture.GraphService and posture.ChangeFeed.
type Service struct {
	Store    posture.Store
	TenantID string
	// Registry provides the built-in policy definitions and initiatives,
	// which are rows of PolicyResources too.
	Registry *policy.Registry
	// Definitions resolves the definition (and initiative) behind a policy
	// state's assignment and reference.
	Definitions func(assignmentKey, referenceID string) (definitionID, setDefinitionID string)
	Now         posture.Clock
	Logger      *slog.Logger
	// Timeout bounds one query (default 30 s).
	Timeout time.Duration
	// Derived yields the documents derived from the estate (Defender's
	// assessments and scores) when the tables load; changes carry them
	// afterwards.
	Derived func(yield func(*posture.Resource) error) error
	// OnQuery, when set, is told of every query once it is answered: the
	// rows it found, its error and how long it took (metrics, traces).
	OnQuery func(ctx context.Context, rows int, err error, d time.Duration)

	db        *kql.Database
	ready     atomic.Bool
	pending   []*posture.Change // changes published while the tables load
	mu        sync.RWMutex      // Publish holds it for writing: mgs, subParent, pending
	mgs       map[string]mgInfo
	subParent map[string]string // subscription key -> management group key
	results   resultCache
	// assignments caches the name and scope of assignments, for state rows.
	assignments sync.Map
	// ledgerSeq is the last ledger entry in AuditEvents.
	ledgerMu  sync.Mutex
	ledgerSeq int64
}

var (
	_ posture.GraphService = (*Service)(nil)
	_ posture.ChangeFeed   = (*Service)(nil)
)

func (g *Service) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Start loads every table from the store. Changes published meanwhile are
// applied once the load is done; queries answer 503 until then. It may run
// in the background of a server that is already serving.
func (g *Service) Start(ctx context.Context) error {
	g.mu.Lock()
	g.db = kql.NewDatabase()
	for _, t := range Tables {
		g.db.CreateTable(t)
	}
	g.db.CreateTable(AuditEvents)
	g.ledgerSeq = 0
	g.mgs, g.subParent = map[string]mgInfo{}, map[string]string{}
	g.mu.Unlock()
	if err := g.load(ctx); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.pending {
		if err := g.apply(c); err != nil {
			return err
		}
	}
	g.pending = nil
	g.ready.Store(true)
	return nil
}

// Ready reports whether the tables are loaded.
func (g *Service) Ready() bool { return g.ready.Load() }

// load reads the store into the tables.
func (g *Service) load(ctx context.Context) error {
	rows := map[string][][]byte{}
	flush := func() error {
		for t, rs := range rows {
			if err := g.db.Upsert(t, rs...); err != nil {
				return err
			}
		}
		clear(rows)
		return nil
	}
	err := g.Store.Read(ctx, func(tx posture.Tx) error {
		// Management groups first: subscription rows name their ancestors.
		if err := each(tx, posture.ResourceFilter{Types: []string{armid.ManagementGroupType}}, func(r *posture.Resource) error {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.noteGroup(r)
			return nil
		}); err != nil {
			return err
		}
		n := 0
		if err := each(tx, posture.ResourceFilter{}, func(r *posture.Resource) error {
			g.mu.Lock()
			g.noteSubscription(r)
			t, row := g.resourceRow(r)
			g.mu.Unlock()
			rows[t] = append(rows[t], row)
			if n++; n%5000 == 0 {
				return flush()
			}
			return nil
		}); err != nil {
			return err
		}
		f := posture.PolicyStateFilter{Limit: 2000}
		for {
			page, err := tx.PolicyStates(f)
			if err != nil {
				return err
			}
			for _, row := range page {
				for _, st := range row.States {
					if st.State != posture.StateDisabled {
						rows[PolicyResources] = append(rows[PolicyResources], g.stateRow(row, st))
					}
				}
			}
			if err := flush(); err != nil {
				return err
			}
			if len(page) < f.Limit {
				return nil
			}
			last := page[len(page)-1]
			f.After = last.ResourceKey + "\x00" + last.AssignmentKey
		}
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if g.Derived != nil {
		n := 0
		err := g.Derived(func(r *posture.Resource) error {
			t, row := g.resourceRow(r)
			rows[t] = append(rows[t], row)
			if n++; n%5000 == 0 {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return g.loadBuiltins()
}

// each pages through the resources f selects.
func each(tx posture.Tx, f posture.ResourceFilter, fn func(*posture.Resource) error) error {
	f.Limit = 2000
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

// loadBuiltins adds the built-in definitions and initiatives to
// PolicyResources, as Resource Graph lists them.
func (g *Service) loadBuiltins() error {
	if g.Registry == nil {
		return nil
	}
	var rows [][]byte
	add := func(id string, raw json.RawMessage, policyType string) {
		if !strings.EqualFold(policyType, "BuiltIn") && !strings.EqualFold(policyType, "Static") {
			return
		}
		pid, err := armid.Parse(id)
		if err != nil {
			return
		}
		r := &posture.Resource{ID: pid.String(), Key: pid.Key(), Type: pid.Type(), Name: pid.Name(), Body: raw}
		_, row := g.resourceRow(r)
		rows = append(rows, row)
	}
	for _, d := range g.Registry.Definitions() {
		add(d.ID, d.Raw, d.PolicyType)
	}
	for _, s := range g.Registry.SetDefinitions() {
		add(s.ID, s.Raw, s.PolicyType)
	}
	return g.db.Upsert(PolicyResources, rows...)
}

// noteSubscription records where a subscription sits.
func (g *Service) noteSubscription(r *posture.Resource) {
	if r.TypeKey() == strings.ToLower(armid.SubscriptionType) {
		g.subParent[r.Key] = r.ParentKey
	}
}

func (g *Service) noteGroup(r *posture.Resource) {
	var doc struct {
		Properties struct {
			DisplayName string `json:"displayName"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(r.Body, &doc)
	g.mgs[r.Key] = mgInfo{name: r.Name, displayName: doc.Properties.DisplayName, parent: r.ParentKey}
}

// Publish implements posture.ChangeFeed: it applies a committed change to
// the tables before returning, so that a query after a write sees it.
func (g *Service) Publish(c *posture.Change) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return // not started: Start will read everything
	}
	if !g.ready.Load() {
		g.pending = append(g.pending, c)
		return
	}
	if err := g.apply(c); err != nil {
		// The tables are a view of the store: log, and let the next start
		// rebuild them.
		g.log().Error("applying a change to the Resource Graph tables", "err", err)
	}
}

func (g *Service) log() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

func (g *Service) apply(c *posture.Change) error {
	for _, prefix := range c.Deleted {
		for _, t := range Tables {
			g.db.DeleteUnder(t, prefix)
		}
		delete(g.mgs, prefix)
		delete(g.subParent, prefix)
	}
	for _, a := range c.AssignmentsDropped {
		ids, err := g.idsWhere(PolicyResources, "type == 'microsoft.policyinsights/policystates' and tostring(properties.policyAssignmentId) == "+quote(a))
		if err != nil {
			return err
		}
		g.db.Delete(PolicyResources, ids...)
	}
	var removed []string
	for _, ref := range c.StatesRemoved {
		removed = append(removed, stateID(ref.ResourceKey, ref.AssignmentKey, ref.ReferenceID))
	}
	g.db.Delete(PolicyResources, removed...)

	rows := map[string][][]byte{}
	groupsChanged := false
	for _, r := range c.Put {
		if r.TypeKey() == strings.ToLower(armid.ManagementGroupType) {
			g.noteGroup(r)
			groupsChanged = true
		}
	}
	for _, r := range c.Put {
		g.noteSubscription(r)
		t, row := g.resourceRow(r)
		rows[t] = append(rows[t], row)
	}
	var disabled []string
	for _, row := range c.States {
		for _, st := range row.States {
			if c.StateRefs != nil && !c.StateRefs[strings.ToLower(st.ReferenceID)] {
				continue // unchanged
			}
			if st.State == posture.StateDisabled {
				// Not a policy state in Azure: drop the row it may replace.
				disabled = append(disabled, stateID(row.ResourceKey, row.AssignmentKey, st.ReferenceID))
				continue
			}
			rows[PolicyResources] = append(rows[PolicyResources], g.stateRow(row, st))
		}
	}
	for _, r := range c.Derived {
		t, row := g.resourceRow(r)
		rows[t] = append(rows[t], row)
	}
	if len(disabled) > 0 {
		g.db.Delete(PolicyResources, disabled...)
	}
	gone := map[string][]string{}
	for _, id := range c.DerivedRemoved {
		t := tableOf(typeOfID(id))
		gone[t] = append(gone[t], id)
	}
	for t, ids := range gone {
		g.db.Delete(t, ids...)
	}
	for t, rs := range rows {
		if err := g.db.Upsert(t, rs...); err != nil {
			return err
		}
	}
	if groupsChanged {
		// Subscriptions show their management group ancestors: refresh them.
		return g.refreshSubscriptions()
	}
	return nil
}

// refreshSubscriptions rebuilds the subscription rows from the store.
func (g *Service) refreshSubscriptions() error {
	var rows [][]byte
	err := g.Store.Read(context.Background(), func(tx posture.Tx) error {
		return each(tx, posture.ResourceFilter{Types: []string{armid.SubscriptionType}}, func(r *posture.Resource) error {
			_, row := g.resourceRow(r)
			rows = append(rows, row)
			return nil
		})
	})
	if err != nil {
		return err
	}
	return g.db.Upsert(ResourceContainers, rows...)
}

// idsWhere returns the ids of a table's rows that satisfy a KQL predicate:
// the engine itself finds the rows of a bulk delete.
func (g *Service) idsWhere(table, predicate string) ([]string, error) {
	q, err := kql.Parse(table+" | where "+predicate+" | project id", kql.ParseOptions{})
	if err != nil {
		return nil, fmt.Errorf("graph: internal query: %w", err)
	}
	res, err := q.Run(context.Background(), g.db.Snapshot(), kql.RunOptions{Limits: ptr(kql.RelaxedLimits()), MaxRows: 1 << 30, MaxBytes: 1 << 34})
	if err != nil {
		return nil, err
	}
	ids := make([]string, res.Len())
	for i := range ids {
		ids[i], _ = res.Row(i)[0].(string)
	}
	return ids, nil
}

func ptr[T any](v T) *T { return &v }

// quote writes s as a KQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// typeOfID is the lower-case type of a well-formed resource id.
func typeOfID(id string) string {
	pid, err := armid.Parse(id)
	if err != nil {
		return ""
	}
	return strings.ToLower(pid.Type())
}

// Stats returns the size of the tables (zero before Start), for metrics.
func (g *Service) Stats() kql.Stats {
	g.mu.Lock()
	db := g.db
	g.mu.Unlock()
	if db == nil {
		return kql.Stats{}
	}
	return db.Stats()
}

package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/drift"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/match"
)

// ExemptionType is the type of exemptions.
const ExemptionType = exemption.Type

// storedVersion is the api-version whose shape exemptions are stored in.
const storedVersion = exemption.StoredVersion

var _ posture.ExemptionService = (*Service)(nil)

func exemptionNotFound(id armid.ID) error {
	return posture.Errorf(posture.ENOTFOUND, "PolicyExemptionNotFound", "The policy exemption '%s' is not found.", id.Name())
}

// parseExemptionID checks the id of an exemption: its type, its name and
// a scope an exemption can have.
func parseExemptionID(s string) (armid.ID, error) {
	id, err := armid.Parse(s)
	if err != nil {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	if !strings.EqualFold(id.Type(), ExemptionType) {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceType", "'%s' is not a policy exemption.", s)
	}
	if err := exemption.ValidateName(id.Name()); err != nil {
		return armid.ID{}, err
	}
	if id.Scope().IsRoot() {
		return armid.ID{}, posture.Errorf(posture.ENOTFOUND, "MissingSubscription",
			"The request did not have a subscription or a valid tenant level resource provider: policy exemptions are created at a management group, subscription, resource group or resource.")
	}
	return id, nil
}

func entryOf(id armid.ID, x *exemption.Exemption) *exemptionEntry {
	assignment := strings.ToLower(x.PolicyAssignmentID)
	if aid, err := armid.Parse(x.PolicyAssignmentID); err == nil {
		assignment = aid.Key()
	}
	e := &exemptionEntry{key: id.Key(), id: id.String(), scope: id.Scope().Key(), assignment: assignment, x: x}
	if x.Evidence != nil && x.Evidence.Condition != nil {
		e.evidence, _ = drift.ParseEvidence(x.Evidence.Condition)
	}
	return e
}

// loadExemptions reads the stored exemptions into a new index; those
// whose expiry has an Expired event are noted.
func (s *Service) loadExemptions(tx posture.Tx) (*exemptIndex, error) {
	ix := newExemptIndex()
	err := eachResource(tx, posture.ResourceFilter{Types: []string{strings.ToLower(ExemptionType)}}, func(r *posture.Resource) error {
		e, err := s.storedEntry(tx, r)
		if e != nil {
			ix.put(e)
		}
		return err
	})
	return ix, err
}

// storedEntry returns the index entry of a stored exemption document, nil
// when it does not parse (it is not honoured), noted when its expiry was
// recorded.
func (s *Service) storedEntry(tx posture.Tx, r *posture.Resource) (*exemptionEntry, error) {
	id, err := armid.Parse(r.ID)
	if err != nil {
		return nil, nil
	}
	x, _, err := exemption.FromDocument(r.Body)
	if err != nil {
		s.log().Warn("stored policy exemption does not parse; it is not honoured", "exemption", r.ID, "err", err)
		return nil, nil
	}
	e := entryOf(id, x)
	if end := x.EndsAt(); !end.IsZero() && !s.now().Before(end) {
		evs, err := tx.Events(posture.EventFilter{Stream: e.key})
		if err != nil {
			return nil, err
		}
		// Noted when recorded, or written already expired (nothing
		// was ever in force to re-open).
		if n := len(evs); n > 0 {
			last := evs[n-1]
			e.noted = last.Kind == posture.EventExpired || last.Kind == posture.EventReviewOverdue || !last.At.Before(end)
		}
	}
	return e, nil
}

// GetExemption implements posture.ExemptionService.
func (s *Service) GetExemption(ctx context.Context, idText string) (*posture.Resource, error) {
	id, err := parseExemptionID(idText)
	if err != nil {
		return nil, err
	}
	var r *posture.Resource
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		r, err = tx.Resource(id.Key())
		if posture.IsNotFound(err) {
			return exemptionNotFound(id)
		}
		return err
	})
	return r, err
}

// PutExemption implements posture.ExemptionService.
func (s *Service) PutExemption(ctx context.Context, w posture.ExemptionWrite) (posture.ExemptionResult, error) {
	id, err := parseExemptionID(w.ID)
	if err != nil {
		return posture.ExemptionResult{}, err
	}
	x, err := exemption.Parse(w.Body, w.APIVersion)
	if err != nil {
		return posture.ExemptionResult{}, err
	}
	return s.writeExemption(ctx, id, w.IfMatch, func(*exemption.Exemption) (*exemption.Exemption, error) { return x, nil })
}

// PatchExemption implements posture.ExemptionService.
func (s *Service) PatchExemption(ctx context.Context, w posture.ExemptionWrite) (posture.ExemptionResult, error) {
	id, err := parseExemptionID(w.ID)
	if err != nil {
		return posture.ExemptionResult{}, err
	}
	return s.writeExemption(ctx, id, w.IfMatch, func(old *exemption.Exemption) (*exemption.Exemption, error) {
		if old == nil {
			return nil, exemptionNotFound(id)
		}
		x := *old
		if err := x.ApplyPatch(w.Body, w.APIVersion); err != nil {
			return nil, err
		}
		return &x, nil
	})
}

// exemptionOp is one exemption write of a batch: build makes the new
// exemption of the stored one (nil when new), or del deletes it. ctx is
// its caller's: who writes (systemData, the ledger).
type exemptionOp struct {
	ctx     context.Context
	id      armid.ID
	ifMatch string
	build   func(old *exemption.Exemption) (*exemption.Exemption, error)
	del     bool
}

// writeExemption stores the exemption build makes of the stored one (nil
// when new), and re-stamps the states it covers or covered, in one
// transaction, possibly shared with concurrent writes (exemptcommit.go);
// the feeds hear of it when it commits.
func (s *Service) writeExemption(ctx context.Context, id armid.ID, ifMatch string, build func(old *exemption.Exemption) (*exemption.Exemption, error)) (posture.ExemptionResult, error) {
	out, err := s.commit(ctx, exemptionOp{ctx: ctx, id: id, ifMatch: ifMatch, build: build})
	return out.res, err
}

// PutExemptions implements posture.ExemptionService: the writes of a
// batch, then inTx, in one transaction.
func (s *Service) PutExemptions(ctx context.Context, ws []posture.ExemptionWrite, inTx func(posture.Tx, []posture.ExemptionResult) error) ([]posture.ExemptionResult, error) {
	ops := make([]exemptionOp, len(ws))
	for i, w := range ws {
		id, err := parseExemptionID(w.ID)
		if err != nil {
			return nil, err
		}
		x, err := exemption.Parse(w.Body, w.APIVersion)
		if err != nil {
			return nil, err
		}
		ops[i] = exemptionOp{ctx: ctx, id: id, ifMatch: w.IfMatch, build: func(*exemption.Exemption) (*exemption.Exemption, error) { return x, nil }}
	}
	return s.writeExemptions(ctx, ops, inTx)
}

// writeExemptions stores a batch of exemptions and re-stamps the states
// each covers or covered, then runs inTx (when set), all in one
// transaction; the feeds hear of it when it commits.
func (s *Service) writeExemptions(ctx context.Context, ops []exemptionOp, inTx func(posture.Tx, []posture.ExemptionResult) error) ([]posture.ExemptionResult, error) {
	if err := s.WriteMu.Lock(ctx); err != nil {
		return nil, err
	}
	defer s.WriteMu.Unlock()
	outs, err := s.applyBatch(ctx, ops, inTx)
	if err != nil {
		return nil, err
	}
	results := make([]posture.ExemptionResult, len(outs))
	for i, o := range outs {
		results[i] = o.res
	}
	return results, nil
}

// opOutcome is what one write of a batch did: a put's result, or the
// document a delete removed (nil: there was none).
type opOutcome struct {
	res posture.ExemptionResult
	old *posture.Resource
}

// applyBatch runs the writes of ops in order in one transaction, each
// stamping with the ones before it, then inTx (with the puts' results);
// when it commits, the index follows and the feeds hear of it as one
// change. The caller holds WriteMu.
func (s *Service) applyBatch(ctx context.Context, ops []exemptionOp, inTx func(posture.Tx, []posture.ExemptionResult) error) ([]opOutcome, error) {
	as, hier, _, _ := s.snapshot()
	now := s.now()
	var (
		outs    []opOutcome
		entries []*exemptionEntry // a put's entry, nil for a delete
		c       *posture.Change
	)
	if err := s.reacquire(ctx); err != nil {
		return nil, err
	}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		outs, entries, c = outs[:0], entries[:0], &posture.Change{}
		over := override{}
		refsSet := false // c.StateRefs has the refs of a write (nil before: all)
		var results []posture.ExemptionResult
		for _, op := range ops {
			if op.del {
				old, restamped, err := s.deleteOne(tx, op, hier, over, now, c, !refsSet)
				if err != nil {
					return err
				}
				refsSet = refsSet || restamped
				outs, entries = append(outs, opOutcome{old: old}), append(entries, nil)
				continue
			}
			res, entry, err := s.writeOne(op.ctx, tx, op, as, hier, over, now, c, !refsSet)
			if err != nil {
				return err
			}
			refsSet = true
			outs, entries = append(outs, opOutcome{res: res}), append(entries, entry)
			results = append(results, res)
		}
		if refsSet && c.StateRefs != nil {
			tx.NoteStateRefs(c.StateRefs)
		}
		if inTx != nil {
			return inTx(tx, results) // it writes no policy states
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	// The index follows in the batch's order; the change names each
	// exemption once, as the batch left it (put, or deleted).
	last := map[string]int{}
	changed := false
	for i, op := range ops {
		key := op.id.Key()
		switch {
		case entries[i] != nil:
			entries[i].noted = !entries[i].x.Active(now) // an exemption born expired has nothing to re-open
			s.exemptions.put(entries[i])
		case outs[i].old != nil:
			s.exemptions.remove(key)
		default:
			continue // a delete of nothing
		}
		last[key], changed = i, true
	}
	if !changed {
		return outs, nil
	}
	s.setDue()
	for i, op := range ops {
		if j, ok := last[op.id.Key()]; !ok || j != i {
			continue
		}
		if entries[i] != nil {
			c.Derived = append(c.Derived, outs[i].res.Resource)
		} else {
			c.DerivedRemoved = append(c.DerivedRemoved, outs[i].old.ID)
		}
	}
	s.publish(c)
	return outs, nil
}

// writeOne stores one exemption of a batch inside its transaction.
func (s *Service) writeOne(ctx context.Context, tx posture.Tx, op exemptionOp, as map[string]*assignment, hier *hierarchy, over override, now time.Time, c *posture.Change, first bool) (posture.ExemptionResult, *exemptionEntry, error) {
	id, key := op.id, op.id.Key()
	if err := tx.Lock(key); err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	old, err := tx.Resource(key)
	if err != nil && !posture.IsNotFound(err) {
		return posture.ExemptionResult{}, nil, err
	}
	if op.ifMatch != "" && (old == nil || op.ifMatch != "*" && op.ifMatch != old.ETag) {
		return posture.ExemptionResult{}, nil, posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The If-Match condition '%s' does not hold for '%s'.", op.ifMatch, id)
	}
	var oldX *exemption.Exemption
	var sd exemption.SystemData
	if old != nil {
		if oldX, sd, err = exemption.FromDocument(old.Body); err != nil {
			return posture.ExemptionResult{}, nil, fmt.Errorf("stored exemption %s: %w", key, err)
		}
	}
	x, err := op.build(oldX)
	if err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	if err := s.checkExemption(tx, id, x, as, hier, now); err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	entry := entryOf(id, x)
	if err := s.approve(tx, id, x, as[entry.assignment]); err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	sd = systemData(ctx, sd, old == nil, now)
	r := exemptionResource(id, x, sd, now)
	if old != nil {
		r.CreatedAt = old.CreatedAt
	}
	if err := tx.PutResources([]*posture.Resource{r}); err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	assignments := []string{entry.assignment}
	if oldX != nil && !strings.EqualFold(oldX.PolicyAssignmentID, x.PolicyAssignmentID) {
		assignments = append(assignments, strings.ToLower(oldX.PolicyAssignmentID))
	}
	over[key] = entry
	st := &stamper{ix: s.exemptions, hier: hier, over: over}
	refs := refsOf(x)
	if oldX != nil {
		refs = unionRefs(refs, refsOf(oldX))
	}
	if first {
		c.StateRefs = refs
	} else {
		c.StateRefs = unionRefs(c.StateRefs, refs)
	}
	var share filterShare
	n, err := s.restamp(tx, st, entry.scope, assignments, key, c, &share)
	if err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	kind := posture.EventUpdated
	if old == nil {
		kind = posture.EventCreated
	}
	if err := tx.AppendEvent(event(ctx, key, kind, old, r, now)); err != nil {
		return posture.ExemptionResult{}, nil, err
	}
	res := posture.ExemptionResult{Resource: r, Created: old == nil, Covered: n, Warnings: share.warnings(x, s.FilterWarnShare)}
	if !x.Active(now) {
		res.Covered = 0
		res.Warnings = append(res.Warnings, fmt.Sprintf("expiresOn %s is already past: the exemption is stored but not in force.", x.ExpiresOn.Format(time.RFC3339)))
	}
	return res, entry, nil
}

// exemptionResource builds the stored resource of an exemption.
func exemptionResource(id armid.ID, x *exemption.Exemption, sd exemption.SystemData, now time.Time) *posture.Resource {
	body := exemption.Document(id.String(), id.Name(), x, sd, storedVersion)
	sum := sha256.Sum256(body)
	return &posture.Resource{
		ID: id.String(), Key: id.Key(), Type: ExemptionType, Name: id.Name(),
		SubscriptionID: strings.ToLower(id.SubscriptionID()), ResourceGroup: strings.ToLower(id.ResourceGroup()),
		ParentKey: id.Scope().Key(), Body: body, ETag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		CreatedAt: now, ChangedAt: now,
	}
}

// systemData fills in the caller of a write.
func systemData(ctx context.Context, sd exemption.SystemData, created bool, now time.Time) exemption.SystemData {
	who, typ := posture.ActorFromContext(ctx)
	if created {
		sd.CreatedBy, sd.CreatedByType, sd.CreatedAt = who, typ, now
	}
	sd.LastModifiedBy, sd.LastModifiedByType, sd.LastModifiedAt = who, typ, now
	return sd
}

// caller returns the calling principal and its systemData type.
func event(ctx context.Context, stream, kind string, before, after *posture.Resource, now time.Time) *posture.Event {
	who, typ := posture.ActorFromContext(ctx)
	action := "Microsoft.Authorization/policyExemptions/write"
	if kind == posture.EventDeleted {
		action = "Microsoft.Authorization/policyExemptions/delete"
	}
	e := &posture.Event{Stream: stream, Kind: kind, Actor: who, ActorType: typ, At: now, Action: action}
	if before != nil {
		e.Scope = before.ID
	}
	if after != nil {
		e.Scope = after.ID
	}
	if before != nil {
		e.Before = before.Body
	}
	if after != nil {
		e.After = after.Body
	}
	return e
}

// checkExemption checks what an exemption says against the estate: its
// scope exists, its assignment exists, its references are members of the
// assignment's initiative, its scope is at or under the assignment's, and
// posture's governance rules hold.
func (s *Service) checkExemption(tx posture.Tx, id armid.ID, x *exemption.Exemption, as map[string]*assignment, hier *hierarchy, now time.Time) error {
	scope := id.Scope()
	if _, err := tx.Resource(scope.Key()); posture.IsNotFound(err) {
		return scopeNotFound(scope)
	} else if err != nil {
		return err
	}
	aid, err := armid.Parse(x.PolicyAssignmentID)
	if err != nil || !strings.EqualFold(aid.Type(), AssignmentType) {
		e := posture.Errorf(posture.EINVALID, "InvalidPolicyAssignmentId", "The policy assignment id '%s' is not the id of a policy assignment.", x.PolicyAssignmentID)
		e.Target = "properties.policyAssignmentId"
		return e
	}
	x.PolicyAssignmentID = aid.String() // canonical: a trailing slash must not hide the assignment
	a := as[aid.Key()]
	if a == nil {
		e := posture.Errorf(posture.ENOTFOUND, "PolicyAssignmentNotFound", "The policy assignment '%s' is not found.", x.PolicyAssignmentID)
		e.Target = "properties.policyAssignmentId"
		return e
	}
	if err := checkReferences(x, a); err != nil {
		return err
	}
	if !strings.EqualFold(x.AssignmentScopeValidation, "DoNotValidate") && !hier.scopeUnder(scope.Key(), a.scope) {
		e := posture.Errorf(posture.EINVALID, "PolicyExemptionScopeNotUnderAssignment",
			"The exemption's scope '%s' is not at or under the scope '%s' of the policy assignment it exempts from. Set assignmentScopeValidation to 'DoNotValidate' to create it anyway.", scope, a.compiled.Assignment.Scope)
		e.Target = "id"
		return e
	}
	sev := ""
	if s.Severity != nil {
		sev = s.Severity(a.key, x.PolicyDefinitionReferenceIDs)
	}
	return s.Rules.Check(x, now, sev)
}

// checkReferences checks policyDefinitionReferenceIds (and the selectors
// naming references) against the assignment, and writes them in the
// initiative's own case.
func checkReferences(x *exemption.Exemption, a *assignment) error {
	member := referenceLookup(x, a)
	if a.compiled.SetDefinition == nil && len(x.PolicyDefinitionReferenceIDs) > 0 {
		e := posture.Errorf(posture.EINVALID, "InvalidPolicyDefinitionReference",
			"The policy assignment '%s' assigns a single policy definition: policyDefinitionReferenceIds apply only to assignments of a policy set (initiative).", a.compiled.Assignment.ID)
		e.Target = "properties.policyDefinitionReferenceIds"
		return e
	}
	for i, ref := range x.PolicyDefinitionReferenceIDs {
		canon, ok := member(ref)
		if !ok {
			e := posture.Errorf(posture.EINVALID, "InvalidPolicyDefinitionReference",
				"The policy definition reference '%s' is not a member of the policy set '%s' that the assignment assigns.", ref, setID(a))
			e.Target = fmt.Sprintf("properties.policyDefinitionReferenceIds[%d]", i)
			return e
		}
		x.PolicyDefinitionReferenceIDs[i] = canon
	}
	for i, rs := range x.ResourceSelectors {
		for j, sel := range rs.Selectors {
			if !strings.EqualFold(sel.Kind, "policyDefinitionReferenceId") {
				continue
			}
			for _, v := range slices.Concat(sel.In, sel.NotIn) {
				if _, ok := member(v); !ok && a.compiled.SetDefinition != nil {
					e := posture.Errorf(posture.EINVALID, "InvalidPolicyDefinitionReference",
						"The resource selector '%s' names the policy definition reference '%s', which is not a member of the policy set '%s'.", rs.Name, v, setID(a))
					e.Target = fmt.Sprintf("properties.resourceSelectors[%d].selectors[%d]", i, j)
					return e
				}
			}
		}
	}
	return nil
}

// referenceLookup finds an assignment's reference by id in any case and
// gives the initiative's own spelling. An exemption names one or a few
// references and the benchmark has over two hundred: a few lookups scan
// them (BenchmarkCheckReferences: a map of them all was 235 allocations a
// write), more build the map.
func referenceLookup(x *exemption.Exemption, a *assignment) func(string) (string, bool) {
	n := len(x.PolicyDefinitionReferenceIDs)
	for _, rs := range x.ResourceSelectors {
		for _, sel := range rs.Selectors {
			n += len(sel.In) + len(sel.NotIn)
		}
	}
	if n <= 4 {
		return func(ref string) (string, bool) {
			for _, r := range a.compiled.References {
				if strings.EqualFold(r.ReferenceID, ref) {
					return r.ReferenceID, true
				}
			}
			return "", false
		}
	}
	members := make(map[string]string, len(a.compiled.References))
	for _, r := range a.compiled.References {
		members[strings.ToLower(r.ReferenceID)] = r.ReferenceID
	}
	return func(ref string) (string, bool) {
		canon, ok := members[strings.ToLower(ref)]
		return canon, ok
	}
}

func setID(a *assignment) string {
	if a.compiled.SetDefinition != nil {
		return a.compiled.SetDefinition.ID
	}
	return a.compiled.Assignment.PolicyDefinitionID
}

// restamp stamps the states of the assignments under scope again with
// st's view of the exemptions, writes the rows whose stamps changed and
// records them in c. It returns how many states the exemption key stamps;
// share, when not nil, counts what key's resource filter keeps.
func (s *Service) restamp(tx posture.Tx, st *stamper, scope string, assignments []string, key string, c *posture.Change, share *filterShare) (int, error) {
	n := 0
	written := st.over[key]
	for _, a := range assignments {
		err := eachStatePage(tx, st.hier.scopeRoots(scope), a, st.needsResource(a), func(rows []*posture.ResourceStates, subject func(*posture.ResourceStates) *match.Resource) error {
			var changed []*posture.ResourceStates
			for _, row := range rows {
				r := subject(row)
				if share != nil && written != nil && written.assignment == a {
					share.count(written.x, row, r)
				}
				if st.stamp(row, r) {
					changed = append(changed, row)
				}
				n += countStamped(row, key)
			}
			c.States = append(c.States, changed...)
			return tx.PutPolicyStates(changed)
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// eachStatePage calls fn with each page of an assignment's state rows
// under the roots ("" for all of them), and with what exemption selectors
// read of each row's resource: its type only, or the whole resource when
// withResources is set (the page's resources are loaded for it).
func eachStatePage(tx posture.Tx, roots []string, assignment string, withResources bool, fn func(rows []*posture.ResourceStates, subject func(*posture.ResourceStates) *match.Resource) error) error {
	for _, root := range roots {
		f := posture.PolicyStateFilter{Under: root, AssignmentKey: assignment, Limit: 5000}
		for {
			rows, err := tx.PolicyStates(f)
			if err != nil {
				return err
			}
			subject := typeOnly
			if withResources && len(rows) > 0 {
				keys := make([]string, len(rows))
				for i, r := range rows {
					keys[i] = r.ResourceKey
				}
				found, err := tx.Resources(keys)
				if err != nil {
					return err
				}
				subject = func(row *posture.ResourceStates) *match.Resource {
					if r := found[row.ResourceKey]; r != nil {
						return subjectOf(r)
					}
					return typeOnly(row)
				}
			}
			if err := fn(rows, subject); err != nil {
				return err
			}
			if len(rows) < f.Limit {
				break
			}
			last := rows[len(rows)-1]
			f.After = last.ResourceKey + "\x00" + last.AssignmentKey
		}
	}
	return nil
}

// countStamped counts the states of a row an exemption is stamped on.
func countStamped(row *posture.ResourceStates, key string) int {
	n := 0
	for _, s := range row.States {
		if s.Exemption == key {
			n++
		}
	}
	return n
}

// DeleteExemption implements posture.ExemptionService: the document is
// deleted and the states it covered re-stamped, in one transaction,
// possibly shared with concurrent writes (exemptcommit.go).
func (s *Service) DeleteExemption(ctx context.Context, idText, ifMatch string) (*posture.Resource, error) {
	id, err := parseExemptionID(idText)
	if err != nil {
		return nil, err
	}
	out, err := s.commit(ctx, exemptionOp{ctx: ctx, id: id, ifMatch: ifMatch, del: true})
	return out.old, err
}

// deleteOne deletes one exemption of a batch inside its transaction; it
// returns the deleted document (nil when there was none) and whether it
// re-stamped states (and put its references in c.StateRefs).
func (s *Service) deleteOne(tx posture.Tx, op exemptionOp, hier *hierarchy, over override, now time.Time, c *posture.Change, first bool) (*posture.Resource, bool, error) {
	id, key := op.id, op.id.Key()
	if err := tx.Lock(key); err != nil {
		return nil, false, err
	}
	old, err := tx.Resource(key)
	if posture.IsNotFound(err) {
		if op.ifMatch != "" && op.ifMatch != "*" {
			return nil, false, posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The If-Match condition '%s' does not hold for '%s'.", op.ifMatch, id)
		}
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	if op.ifMatch != "" && op.ifMatch != "*" && op.ifMatch != old.ETag {
		return nil, false, posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The If-Match condition '%s' does not hold for '%s'.", op.ifMatch, id)
	}
	if _, err := tx.DeleteResources(key); err != nil {
		return nil, false, err
	}
	// The exemption as the batch has it so far: written by an earlier
	// write of the batch, else the index's.
	e, inBatch := over[key]
	if !inBatch {
		e = s.exemptions.get(key)
	}
	over[key] = nil
	restamped := false
	if e != nil {
		st := &stamper{ix: s.exemptions, hier: hier, over: over}
		if refs := refsOf(e.x); first {
			c.StateRefs = refs
		} else {
			c.StateRefs = unionRefs(c.StateRefs, refs)
		}
		if _, err := s.restamp(tx, st, e.scope, []string{e.assignment}, key, c, nil); err != nil {
			return nil, false, err
		}
		restamped = true
	}
	return old, restamped, tx.AppendEvent(event(op.ctx, key, posture.EventDeleted, old, nil, now))
}

// ListExemptions implements posture.ExemptionService: the exemptions at
// the scope, its ancestors and (without atScope()) its descendants, in key
// order. A page reads the store's exemption rows after the cursor (keyset
// paging on indexed key ranges): listing 100,000 exemptions a page at a
// time reads each row once, where a scan of every exemption per page read
// them a hundred times over (exemptionlist.go).
func (s *Service) ListExemptions(ctx context.Context, f posture.ExemptionFilter) (posture.ResourcePage, error) {
	scope, err := armid.Parse(f.Scope)
	if err != nil {
		return posture.ResourcePage{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	flt, err := exemption.ParseFilter(f.Filter)
	if err != nil {
		return posture.ResourcePage{}, err
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	_, hier, _, _ := s.snapshot()
	l := s.exemptionLister(scope, flt, hier)
	var page posture.ResourcePage
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		page, err = l.page(ctx, tx, f.After, limit)
		return err
	})
	return page, err
}

// ExemptionHistory implements posture.ExemptionService.
func (s *Service) ExemptionHistory(ctx context.Context, idText string) ([]*posture.Event, error) {
	id, err := parseExemptionID(idText)
	if err != nil {
		return nil, err
	}
	var out []*posture.Event
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		out, err = tx.Events(posture.EventFilter{Stream: id.Key()})
		return err
	})
	if err == nil && len(out) == 0 {
		return nil, exemptionNotFound(id)
	}
	return out, err
}

// refsOf returns the references an exemption covers, lower case; nil
// for all of them (or when selectors may name others).
func refsOf(x *exemption.Exemption) map[string]bool {
	if len(x.PolicyDefinitionReferenceIDs) == 0 {
		return nil
	}
	out := make(map[string]bool, len(x.PolicyDefinitionReferenceIDs))
	for _, r := range x.PolicyDefinitionReferenceIDs {
		out[strings.ToLower(r)] = true
	}
	return out
}

// unionRefs joins two reference sets; nil (all) wins.
func unionRefs(a, b map[string]bool) map[string]bool {
	if a == nil || b == nil {
		return nil
	}
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// restampMoved re-stamps the states of the subscriptions a change moved to
// another management group: exemptions at groups cover them through the
// hierarchy, which the states' own evaluation does not revisit.
func (s *Service) restampMoved(tx posture.Tx, hier, newHier *hierarchy, c *posture.Change) error {
	var moved []string
	for _, r := range c.Put {
		old, known := hier.parent[r.Key]
		if !known || !isContainer(r.Key) || old == newHier.parent[r.Key] {
			continue
		}
		if isGroup(r.Key) {
			moved = append(moved, newHier.subscriptionsUnder(r.Key)...)
		} else {
			moved = append(moved, r.Key)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	assignments := s.exemptions.groupAssignments()
	if len(assignments) == 0 {
		return nil
	}
	st := &stamper{ix: s.exemptions, hier: newHier}
	for _, sub := range moved {
		if _, err := s.restamp(tx, st, sub, assignments, "", c, nil); err != nil {
			return err
		}
	}
	return nil
}

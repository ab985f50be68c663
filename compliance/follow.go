package compliance

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// Follow applies what another replica committed (keys read from the change
// log) to this replica's indexes: the hierarchy, the related documents,
// assignments, custom definitions and initiatives, and exemptions. It
// re-reads the rows the keys name and returns them as a Change for the
// other views (Defender, the Resource Graph). Applying keys twice, or a
// newer version than the record saw, converges all the same. The caller
// holds WriteMu, as for a write of this replica's own.
func (s *Service) Follow(ctx context.Context, k *posture.ChangeKeys) (*posture.Change, error) {
	c := &posture.Change{Deleted: slices.Clone(k.Deleted), AssignmentsDropped: slices.Clone(k.AssignmentsDropped)}
	var notedNow []*exemptionEntry // expiries recorded by another replica
	var entries []*exemptionEntry
	var goneExemptions []string
	streams := map[string]bool{}
	for _, st := range k.Streams {
		if isExemptionKey(st) {
			streams[st] = true
		}
	}
	before, hier, _, _ := s.snapshot() // assignments as compiled before this change
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		keys := dedupe(k.Resources)
		docs, err := tx.Resources(keys)
		if err != nil {
			return err
		}
		for _, key := range keys {
			if r := docs[key]; r != nil {
				c.Put = append(c.Put, r)
			} else {
				c.Deleted = append(c.Deleted, key)
			}
		}
		// Exemptions whose document or history changed: their entries again.
		for _, r := range c.Put {
			if isExemptionKey(r.Key) {
				delete(streams, r.Key)
				e, err := s.storedEntry(tx, r)
				if err != nil {
					return err
				}
				if e != nil {
					entries = append(entries, e)
				}
			}
		}
		for key := range streams {
			old := s.exemptions.get(key)
			if old == nil || old.noted {
				continue
			}
			r, err := tx.Resource(key)
			if posture.IsNotFound(err) {
				continue
			} else if err != nil {
				return err
			}
			e, err := s.storedEntry(tx, r)
			if err != nil || e == nil {
				return err
			}
			entries = append(entries, e)
			if e.noted {
				notedNow = append(notedNow, e)
			}
		}
		// Exemptions deleted, and those at deleted scopes.
		for _, d := range c.Deleted {
			if s.exemptions.get(d) != nil {
				goneExemptions = append(goneExemptions, d)
			}
			for _, e := range s.exemptions.under(d) {
				goneExemptions = append(goneExemptions, e.key)
			}
		}
		rows, err := s.followStates(tx, k.States)
		if err != nil {
			return err
		}
		c.States = rows
		if len(k.States) > 0 && len(k.StateRefs) > 0 {
			c.StateRefs = make(map[string]bool, len(k.StateRefs))
			for _, r := range k.StateRefs {
				c.StateRefs[r] = true
			}
		}
		// An expiry rewrites no row: the views re-read the rows it ends.
		for _, e := range notedNow {
			rows, err := stampedRows(tx, hier, e)
			if err != nil {
				return err
			}
			c.States = append(c.States, rows...)
			if c.StateRefs != nil { // nil: all
				c.StateRefs = unionRefs(c.StateRefs, refsOf(e.x))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.followObjects(ctx, c); err != nil {
		return nil, err
	}
	if len(entries) > 0 || len(goneExemptions) > 0 {
		for _, key := range goneExemptions {
			s.exemptions.remove(key)
		}
		for _, e := range entries {
			s.exemptions.put(e)
		}
		s.setDue()
	}
	c.StatesRemoved = s.removedRefs(c.States, c.StateRefs, before)
	// Nothing lies under an exemption: the views drop its row alone, as
	// they do for the writer's change (a Deleted prefix makes them look
	// for rows below it).
	c.Deleted = slices.DeleteFunc(c.Deleted, func(key string) bool {
		if isExemptionKey(key) {
			c.DerivedRemoved = append(c.DerivedRemoved, key)
			return true
		}
		return false
	})
	return c, nil
}

// followStates reads the (resource, assignment) rows the keys name; a row
// no longer stored comes back without states (deleted).
func (s *Service) followStates(tx posture.Tx, pairs [][2]string) ([]*posture.ResourceStates, error) {
	byAssignment := map[string][]string{}
	seen := map[[2]string]bool{}
	for _, p := range pairs {
		if !seen[p] {
			seen[p] = true
			byAssignment[p[1]] = append(byAssignment[p[1]], p[0])
		}
	}
	var out []*posture.ResourceStates
	for _, a := range slices.Sorted(maps.Keys(byAssignment)) {
		keys := byAssignment[a]
		for i := 0; i < len(keys); i += 2000 {
			chunk := keys[i:min(i+2000, len(keys))]
			rows, err := tx.PolicyStates(posture.PolicyStateFilter{ResourceKeys: chunk, AssignmentKey: a, Limit: len(chunk)})
			if err != nil {
				return nil, err
			}
			found := map[string]bool{}
			for _, r := range rows {
				found[r.ResourceKey] = true
			}
			out = append(out, rows...)
			for _, key := range chunk {
				if !found[key] {
					out = append(out, &posture.ResourceStates{ResourceKey: key, AssignmentKey: a})
				}
			}
		}
	}
	return out, nil
}

// removedRefs returns, for rows re-read whole, the references of their
// assignment (among refs, when not nil) that they no longer hold: views
// keep single states and must drop those (the writer knew which
// disappeared; a follower does not). The references are those of the
// assignment as compiled now and before the change (an initiative that
// dropped a reference: its states go too).
func (s *Service) removedRefs(rows []*posture.ResourceStates, refs map[string]bool, before map[string]*assignment) []posture.StateRef {
	as, _, _, _ := s.snapshot()
	var out []posture.StateRef
	for _, row := range rows {
		// With refs (an exemption's re-stamp: one or a few), the row's
		// states are searched for those alone, without lowering all of them.
		var have map[string]bool
		holds := func(id string) bool {
			if refs != nil {
				return slices.ContainsFunc(row.States, func(st posture.PolicyState) bool { return strings.EqualFold(st.ReferenceID, id) })
			}
			if have == nil {
				have = make(map[string]bool, len(row.States))
				for _, st := range row.States {
					have[strings.ToLower(st.ReferenceID)] = true
				}
			}
			return have[id]
		}
		done := map[string]bool{} // once, when both assignments name it
		for _, a := range []*assignment{as[row.AssignmentKey], before[row.AssignmentKey]} {
			if a == nil {
				continue
			}
			for i, ref := range a.compiled.References {
				id := a.refIDs[i]
				if refs != nil && !refs[id] || done[id] {
					continue
				}
				f := ref.Facts
				if row.ResourceType != "" && !f.AnyType && len(f.TypePatterns) == 0 && len(f.Types) > 0 && !slices.Contains(f.Types, row.ResourceType) {
					continue // it cannot have a state for this type
				}
				done[id] = true
				if !holds(id) {
					out = append(out, posture.StateRef{ResourceKey: row.ResourceKey, AssignmentKey: row.AssignmentKey, ReferenceID: ref.ReferenceID})
				}
			}
		}
	}
	return out
}

// followObjects brings the hierarchy, related documents, definitions,
// initiatives and assignments up to date with the documents of c.
func (s *Service) followObjects(ctx context.Context, c *posture.Change) error {
	as, hier, _, kept := s.snapshot()
	newHier := hier.clone()
	for _, d := range c.Deleted {
		newHier.remove(d)
	}
	for _, r := range c.Put {
		newHier.apply(r)
	}
	// Definitions and initiatives first: assignments compile against them.
	var objects []string // keys of the definitions and initiatives changed
	for _, r := range c.Put {
		switch r.TypeKey() {
		case strings.ToLower(DefinitionType), strings.ToLower(SetDefinitionType):
			objects = append(objects, r.Key)
		}
		switch r.TypeKey() {
		case strings.ToLower(DefinitionType):
			if err := s.registerDefinition(r); err != nil {
				s.log().Warn("policy definition written by another replica does not register", "definition", r.ID, "err", err)
			}
		case strings.ToLower(SetDefinitionType):
			if err := s.registerSet(r); err != nil {
				s.log().Warn("policy set definition written by another replica does not register", "setDefinition", r.ID, "err", err)
			}
		}
	}
	for _, d := range c.Deleted {
		id, err := armid.Parse(d)
		if err != nil {
			continue
		}
		switch strings.ToLower(id.Type()) {
		case strings.ToLower(DefinitionType), strings.ToLower(SetDefinitionType):
			objects = append(objects, strings.ToLower(d))
		}
		switch strings.ToLower(id.Type()) {
		case strings.ToLower(DefinitionType):
			s.Registry.RemoveDefinition(d)
		case strings.ToLower(SetDefinitionType):
			s.Registry.RemoveSetDefinition(d)
		}
	}
	put := map[string]*assignment{}
	var gone []string
	for _, r := range c.Put {
		if r.TypeKey() != strings.ToLower(AssignmentType) {
			continue
		}
		a, err := s.compile(r)
		if err != nil {
			s.log().Warn("policy assignment does not compile; it is not evaluated", "assignment", r.ID, "err", err)
			gone = append(gone, r.Key)
			continue
		}
		put[a.key] = a
	}
	// The assignments compiled against a definition or initiative another
	// replica changed: compiled again, as its write did (replaceCompiled);
	// else this replica would evaluate with the old references.
	for _, a := range sortedAssignments(as) {
		if put[a.key] != nil || !usesAny(a, objects) {
			continue
		}
		ca, err := policy.Compile(a.compiled.Assignment, s.Registry)
		if err != nil {
			s.log().Warn("policy assignment does not compile after another replica changed what it assigns; it is not evaluated", "assignment", a.key, "err", err)
			gone = append(gone, a.key)
			continue
		}
		put[a.key] = newAssignment(a.key, a.scope, ca)
	}
	for _, d := range c.Deleted {
		for k := range as {
			if k == d || strings.HasPrefix(k, d+"/") {
				gone = append(gone, k)
			}
		}
	}
	overlay := map[string]*relatedDoc{}
	for _, r := range c.Put {
		if keeps(kept, r.TypeKey(), r.Key) {
			d := docOf(r)
			if pr, err := decode(r); err == nil {
				d.doc = pr
			}
			overlay[r.Key] = d
		}
	}
	s.mu.Lock()
	moved := !maps.Equal(hier.parent, newHier.parent)
	s.hier = newHier
	for _, d := range c.Deleted {
		s.related.removeUnder(d)
	}
	for _, d := range overlay {
		s.related.put(d)
	}
	s.mu.Unlock()
	if moved && s.HierarchyChanged != nil {
		s.HierarchyChanged()
	}
	if len(put) > 0 || len(gone) > 0 {
		s.installAssignments(ctx, put, gone)
	}
	return nil
}

// isExemptionKey reports whether a lower-case key names a policy exemption.
func isExemptionKey(key string) bool {
	i := strings.LastIndex(key, "/providers/")
	return i >= 0 && strings.HasPrefix(key[i:], "/providers/microsoft.authorization/policyexemptions/") &&
		!strings.Contains(key[i+len("/providers/microsoft.authorization/policyexemptions/"):], "/")
}

// dedupe returns the distinct keys, in first-seen order.
func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// usesAny reports whether an assignment uses one of the definitions or
// initiatives with these keys.
func usesAny(a *assignment, keys []string) bool {
	for _, k := range keys {
		if usesObject(a, k) {
			return true
		}
	}
	return false
}

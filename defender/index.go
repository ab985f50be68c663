package defender

import (
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/posture/posture"
)

// status is an assessment's status code, ordered so that the larger wins
// when several assignments of the benchmark assess the same resource.
type status uint8

const (
	stNone status = iota
	stNotApplicable
	stHealthy
	stUnhealthy
)

func (s status) String() string {
	switch s {
	case stNotApplicable:
		return "NotApplicable"
	case stHealthy:
		return "Healthy"
	case stUnhealthy:
		return "Unhealthy"
	}
	return ""
}

func parseStatus(code string) status {
	switch {
	case strings.EqualFold(code, "Healthy"):
		return stHealthy
	case strings.EqualFold(code, "Unhealthy"):
		return stUnhealthy
	case strings.EqualFold(code, "NotApplicable"):
		return stNotApplicable
	}
	return stNone
}

// Causes of an assessment's status.
const (
	causeNone uint8 = iota
	causeOffByPolicy
	causeExempt          // NotApplicable: a Waiver covers it
	causeExemptMitigated // NotApplicable: a Mitigated exemption covers it
	causeExemptionEnded  // the rule's status again: the exemption that covered it expired
)

// entry is one recommendation's assessment of a resource by one source.
type entry struct {
	rec     int16 // index in Catalog.Recommendations
	st      status
	cause   uint8
	fromDoc bool   // a stored assessment document, not a policy state
	raw     status // the rule's status, under an exemption
	exm     uint32 // the exemption stamped on the state, an index+1 in Service.exms; 0 for none
	first   int64  // unix seconds
	changed int64
}

// source is what one benchmark assignment, or the stored assessment
// documents (key ""), say about a resource, in recommendation order.
type source struct {
	key     string
	entries []entry
}

// resourceEntry is the index's view of one resource.
type resourceEntry struct {
	sub     string // subscription id, lower case
	sources []source
}

// combined returns the resource's assessments, one per recommendation in
// recommendation order: a stored document wins (a scanner or partner said
// so), then the worst status of the assignments.
func (r *resourceEntry) combined() []entry {
	switch len(r.sources) {
	case 0:
		return nil
	case 1:
		return r.sources[0].entries
	}
	var docs []entry // sources are in key order: the documents' "" first
	if r.sources[0].key == "" {
		docs = r.sources[0].entries
	}
	var out []entry
	for _, s := range r.sources {
		for _, e := range s.entries {
			i, found := slices.BinarySearchFunc(out, e.rec, byRec)
			switch {
			case !found:
				out = slices.Insert(out, i, e)
			case e.st > out[i].st:
				if _, fromDoc := slices.BinarySearchFunc(docs, e.rec, byRec); !fromDoc {
					out[i] = e
				}
			}
		}
	}
	return out
}

func byRec(a entry, rec int16) int { return int(a.rec) - int(rec) }

// setSource replaces (or with no entries removes) one source.
func (r *resourceEntry) setSource(key string, entries []entry) {
	i := slices.IndexFunc(r.sources, func(s source) bool { return s.key == key })
	switch {
	case i < 0 && len(entries) > 0:
		// One copy of an assignment's id for every resource it covers,
		// not the one each store row came with.
		r.sources = append(r.sources, source{key: unique.Make(key).Value(), entries: entries})
		// Stored documents first: combined relies on it.
		slices.SortFunc(r.sources, func(a, b source) int { return strings.Compare(a.key, b.key) })
	case i >= 0 && len(entries) > 0:
		r.sources[i].entries = entries
	case i >= 0:
		r.sources = slices.Delete(r.sources, i, i+1)
	}
}

func (r *resourceEntry) source(key string) []entry {
	for _, s := range r.sources {
		if s.key == key {
			return s.entries
		}
	}
	return nil
}

// tally counts resources by status.
type tally struct{ Healthy, Unhealthy, NotApplicable int }

func (t *tally) add(s status, n int) {
	switch s {
	case stHealthy:
		t.Healthy += n
	case stUnhealthy:
		t.Unhealthy += n
	case stNotApplicable:
		t.NotApplicable += n
	}
}

// subTally is a subscription's counters: resources per control and per
// recommendation, by status.
type subTally struct {
	controls []tally
	recs     []tally
}

// entriesOf turns a policy state row of a benchmark assignment into
// entries as they are at now; states without an assessment (Unknown,
// Error, Manual) have none.
func (s *Service) entriesOf(row *posture.ResourceStates, now time.Time) []entry {
	c := s.Catalog
	out := make([]entry, 0, len(row.States))
	for i := range row.States {
		st := &row.States[i]
		r, ok := c.ByReference(st.ReferenceID)
		if !ok {
			continue
		}
		e := entry{rec: int16(r.index), first: unix(st.FirstEvaluated), changed: unix(st.ChangedAt)}
		switch st.State {
		case posture.StateCompliant:
			e.st = stHealthy
		case posture.StateNonCompliant:
			e.st = stUnhealthy
		case posture.StateDisabled:
			e.st, e.cause = stNotApplicable, causeOffByPolicy
		case posture.StateExempt:
			e.st, e.cause = stNotApplicable, causeExempt
		default:
			continue
		}
		switch {
		case e.cause == causeOffByPolicy || st.Exemption == "":
		case st.Exempt(now):
			e.raw = e.st
			e.st, e.cause, e.exm = stNotApplicable, causeExempt, s.internExemption(st)
			if st.ExemptionCategory == "Mitigated" {
				e.cause = causeExemptMitigated
			}
		default:
			e.cause, e.exm = causeExemptionEnded, s.internExemption(st)
			if t := unix(st.ExemptUntil); t > e.changed {
				e.changed = t // the status changed back when the exemption ended
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int { return int(a.rec) - int(b.rec) })
	return slices.CompactFunc(out, func(a, b entry) bool { return a.rec == b.rec })
}

// exemptionRef is an exemption as assessments name it.
type exemptionRef struct {
	id, category string
	until        time.Time
}

// internExemption returns the number standing for the exemption stamped
// on a state: entries stay small, and equal when the exemption is.
func (s *Service) internExemption(st *posture.PolicyState) uint32 {
	ref := exemptionRef{id: st.Exemption, category: st.ExemptionCategory, until: st.ExemptUntil}
	s.exmMu.Lock()
	defer s.exmMu.Unlock()
	if n, ok := s.exmIndex[ref]; ok {
		return n
	}
	if s.exmIndex == nil {
		s.exmIndex = map[exemptionRef]uint32{}
	}
	// The store's strings are slices of a whole row of states: kept, they
	// would keep the row.
	ref.id, ref.category = strings.Clone(ref.id), unique.Make(ref.category).Value()
	s.exms = append(s.exms, ref)
	n := uint32(len(s.exms))
	s.exmIndex[ref] = n
	return n
}

func (s *Service) exemptionOf(e entry) exemptionRef {
	if e.exm == 0 {
		return exemptionRef{}
	}
	s.exmMu.Lock()
	defer s.exmMu.Unlock()
	return s.exms[e.exm-1]
}

// scored is the status an entry counts as in scores: a Mitigated
// exemption counts as healthy when the service is told so.
func (s *Service) scored(e entry) status {
	if e.cause == causeExemptMitigated && s.MitigatedAsHealthy {
		return stHealthy
	}
	return e.st
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

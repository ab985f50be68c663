package defender

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/posture/posture"
)

// AssessmentType is the lower-case type of assessment documents.
const assessmentTypeKey = "microsoft.security/assessments"

// assessmentsSegment separates a resource id from its assessment.
const assessmentsSegment = "/providers/microsoft.security/assessments/"

// Service implements posture.SecurityService and posture.ChangeFeed: in a
// fan-out of feeds it must come before the Resource Graph, to which it
// hands the assessments and scores each change derives.
type Service struct {
	Store     posture.Store
	Resources posture.ResourceService
	Catalog   *Catalog
	// Initiative returns the initiative an assignment assigns
	// (compliance.Service.InitiativeOf): the states of assignments of the
	// benchmark are assessments.
	Initiative func(assignmentKey string) string
	// PortalURL is the base URL of posture's portal, for links.
	PortalURL string
	// MitigatedAsHealthy counts resources under a Mitigated exemption as
	// healthy in scores (they were fixed another way); by default they are
	// left out, as the API shows them NotApplicable.
	MitigatedAsHealthy bool
	// HistoryLimit bounds the score history kept per subscription
	// (default 1000 points).
	HistoryLimit int
	Now          posture.Clock
	Logger       *slog.Logger

	mu      sync.RWMutex
	res     map[string]*resourceEntry // resource key -> its assessments
	subs    map[string]*subTally      // subscription id -> counters
	history map[string][]ScorePoint
	dirty   map[string]bool // subscriptions whose history is not saved

	exmMu    sync.Mutex
	exms     []exemptionRef // exemptions named by entries
	exmIndex map[exemptionRef]uint32
}

var (
	_ posture.ChangeFeed      = (*Service)(nil)
	_ posture.SecurityService = (*Service)(nil)
)

// ScorePoint is one point of a subscription's score history.
type ScorePoint struct {
	Time       time.Time `json:"time"`
	Current    float64   `json:"current"`
	Max        int       `json:"max"`
	Percentage float64   `json:"percentage"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// historyKey is the setting that holds a subscription's score history.
func historyKey(sub string) string { return "secure_score_history/" + sub }

// Start builds the index and counters from the stored policy states and
// assessment documents. Start the policy service first: it resolves the
// assignments.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res, s.subs = map[string]*resourceEntry{}, map[string]*subTally{}
	s.history, s.dirty = map[string][]ScorePoint{}, map[string]bool{}
	now := s.now()
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		f := posture.PolicyStateFilter{Limit: 2000}
		for {
			rows, err := tx.PolicyStates(f)
			if err != nil {
				return err
			}
			for _, row := range rows {
				if s.isBenchmark(row) {
					s.entry(row.ResourceKey, row.SubscriptionID).setSource(row.AssignmentKey, s.entriesOf(row, now))
				}
			}
			if len(rows) < f.Limit {
				break
			}
			last := rows[len(rows)-1]
			f.After = last.ResourceKey + "\x00" + last.AssignmentKey
		}
		rf := posture.ResourceFilter{Types: []string{assessmentTypeKey}, Limit: 2000}
		for {
			rs, err := tx.ListResources(rf)
			if err != nil {
				return err
			}
			for _, r := range rs {
				s.putDocument(r)
			}
			if len(rs) < rf.Limit {
				break
			}
			rf.After = rs[len(rs)-1].Key
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range s.res {
		s.count(r.sub, nil, r.combined())
	}
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		for sub := range s.subs {
			v, err := tx.Setting(historyKey(sub))
			if err != nil {
				return err
			}
			var pts []ScorePoint
			if v != "" && json.Unmarshal([]byte(v), &pts) == nil {
				s.history[sub] = pts
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for sub := range s.subs {
		s.notePoint(sub)
	}
	return nil
}

// isBenchmark says whether a state row is of an assignment of the
// benchmark initiative.
func (s *Service) isBenchmark(row *posture.ResourceStates) bool {
	if len(row.States) == 0 || s.Initiative == nil {
		return false
	}
	return strings.EqualFold(s.Initiative(row.AssignmentKey), s.Catalog.SetID)
}

func (s *Service) entry(key, sub string) *resourceEntry {
	r := s.res[key]
	if r == nil {
		// The store's rows give each resource its own copy of the
		// subscription id; one copy serves them all.
		r = &resourceEntry{sub: unique.Make(sub).Value()}
		s.res[key] = r
	}
	return r
}

func (s *Service) tally(sub string) *subTally {
	t := s.subs[sub]
	if t == nil {
		t = &subTally{controls: make([]tally, len(s.Catalog.Controls)), recs: make([]tally, len(s.Catalog.Recommendations))}
		s.subs[sub] = t
	}
	return t
}

// count moves a resource's counters from its assessments before to those
// after.
func (s *Service) count(sub string, before, after []entry) {
	s.countInto(s.tally(sub), before, after, s.scored)
}

// countInto moves counters t by one resource's change, each entry counted
// as score says.
func (s *Service) countInto(t *subTally, before, after []entry, score func(entry) status) {
	var old, cur [32]status // per control; the catalog has 15
	for _, e := range before {
		t.recs[e.rec].add(score(e), -1)
		s.controlStatus(&old, e, score)
	}
	for _, e := range after {
		t.recs[e.rec].add(score(e), 1)
		s.controlStatus(&cur, e, score)
	}
	for i := range s.Catalog.Controls {
		if old[i] != cur[i] {
			t.controls[i].add(old[i], -1)
			t.controls[i].add(cur[i], 1)
		}
	}
}

// controlStatus folds an assessment into its controls' statuses: a
// resource is unhealthy in a control when one of its recommendations is,
// healthy when none is and one is healthy (secure-score-security-controls).
// Preview recommendations do not count.
func (s *Service) controlStatus(c *[32]status, e entry, score func(entry) status) {
	r := s.Catalog.Recommendations[e.rec]
	if r.Preview {
		return
	}
	for _, ctl := range r.Controls {
		c[ctl.index] = max(c[ctl.index], score(e))
	}
}

// putDocument indexes a stored assessment document of a recommendation of
// the catalog (custom ones have no part in the score).
func (s *Service) putDocument(r *posture.Resource) {
	resKey, key, ok := splitAssessmentKey(r.Key)
	if !ok {
		return
	}
	rec, ok := s.Catalog.Recommendation(key)
	if !ok {
		return
	}
	var doc struct {
		Properties struct {
			Status struct {
				Code                string    `json:"code"`
				Cause               string    `json:"cause"`
				FirstEvaluationDate time.Time `json:"firstEvaluationDate"`
				StatusChangeDate    time.Time `json:"statusChangeDate"`
			} `json:"status"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(r.Body, &doc)
	st := doc.Properties.Status
	e := entry{rec: int16(rec.index), st: parseStatus(st.Code), fromDoc: true, first: unix(st.FirstEvaluationDate), changed: unix(st.StatusChangeDate)}
	if strings.EqualFold(st.Cause, "Exempt") {
		e.cause = causeExempt
	} else if strings.EqualFold(st.Cause, "OffByPolicy") {
		e.cause = causeOffByPolicy
	}
	re := s.entry(resKey, r.SubscriptionID)
	docs := slices.Clone(re.source(""))
	i, found := slices.BinarySearchFunc(docs, e.rec, byRec)
	if found {
		docs[i] = e
	} else {
		docs = slices.Insert(docs, i, e)
	}
	re.setSource("", docs)
}

func (s *Service) deleteDocument(key string) {
	resKey, akey, ok := splitAssessmentKey(key)
	if !ok {
		return
	}
	rec, ok := s.Catalog.Recommendation(akey)
	re := s.res[resKey]
	if !ok || re == nil {
		return
	}
	docs := slices.DeleteFunc(slices.Clone(re.source("")), func(e entry) bool { return int(e.rec) == rec.index })
	re.setSource("", docs)
}

// splitAssessmentKey splits {resource}/providers/microsoft.security/assessments/{key}.
func splitAssessmentKey(key string) (resource, assessment string, ok bool) {
	i := strings.LastIndex(key, assessmentsSegment)
	if i <= 0 {
		return "", "", false
	}
	a := key[i+len(assessmentsSegment):]
	if a == "" || strings.Contains(a, "/") {
		return "", "", false
	}
	return key[:i], a, true
}

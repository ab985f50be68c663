// Package consistency checks a store against a from-scratch recomputation,
// as `posture check` and the crash tests do: every stored policy state
// against a fresh evaluation of the stored resources, assignments and
// exemptions (compliance.Service.Check); Defender's assessments and secure
// scores computed by package defender from the stored states against those
// it computes from the fresh ones; and the audit ledger's chain and
// checkpoints (audit.Verify). Everything is read in one read transaction,
// so a store that a server is writing is checked as of one moment.
package consistency

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/audit"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/policy"
)

// Options configure a check.
type Options struct {
	// Registry holds the built-in definitions and those the server loads
	// (--policies); the check adds the store's custom ones to it.
	Registry *policy.Registry
	// LedgerKeys check the ledger's signed checkpoints; none: the chain
	// alone.
	LedgerKeys []ed25519.PublicKey
	// MitigatedAsHealthy scores as the server does with that flag.
	MitigatedAsHealthy bool
	// Limit bounds the disagreements listed per part (all are counted);
	// 0: 100.
	Limit  int
	Now    posture.Clock
	Logger *slog.Logger
}

// Report is what a check found.
type Report struct {
	Consistent bool                   `json:"consistent"`
	At         time.Time              `json:"at"` // the clock the check evaluated at
	States     *compliance.StateCheck `json:"states"`
	Defender   *DefenderCheck         `json:"defender"`
	Ledger     *LedgerCheck           `json:"ledger"`
}

// DefenderCheck compares Defender's view of the stored states with its
// view of the fresh ones.
type DefenderCheck struct {
	Subscriptions int `json:"subscriptions"`
	// Assessments counts the assessments listed from the stored states.
	Assessments   int                 `json:"assessments"`
	Scores        []SubscriptionScore `json:"scores"`
	Disagreements int                 `json:"disagreements"`
	Diffs         []Diff              `json:"diffs,omitempty"`
}

// SubscriptionScore is a subscription's secure score from the stored
// states and from the fresh ones.
type SubscriptionScore struct {
	Subscription string `json:"subscription"`
	Stored       Score  `json:"stored"`
	Fresh        Score  `json:"fresh"`
}

// Score is a secure score as the API gives it.
type Score struct {
	Current    float64 `json:"current"`
	Max        int     `json:"max"`
	Percentage float64 `json:"percentage"`
	Weight     int     `json:"weight"`
}

func (s Score) String() string {
	return fmt.Sprintf("%.2f/%d (%.2f%%, weight %d)", s.Current, s.Max, s.Percentage*100, s.Weight)
}

// Problems of Defender's view.
const (
	ProblemScore      = "score"      // a subscription's secure score differs
	ProblemControl    = "control"    // a security control's score or counts differ
	ProblemAssessment = "assessment" // an assessment differs (status, cause, exemption, dates)
	ProblemMissing    = "missing"    // the fresh states give an assessment the stored ones do not
	ProblemExtra      = "extra"      // the stored states give an assessment the fresh ones do not
)

// Diff is one document on which the two views disagree.
type Diff struct {
	ID      string `json:"id"`
	Problem string `json:"problem"`
	Stored  string `json:"stored,omitempty"`
	Fresh   string `json:"fresh,omitempty"`
}

func (d Diff) String() string {
	s := d.Problem + ": " + d.ID
	switch d.Problem {
	case ProblemMissing:
		s += ": fresh " + d.Fresh
	case ProblemExtra:
		s += ": stored " + d.Stored
	default:
		s += ": stored " + d.Stored + "; fresh " + d.Fresh
	}
	return s
}

// LedgerCheck is the ledger's verification.
type LedgerCheck struct {
	Entries     int64  `json:"entries"`
	First       int64  `json:"first"`
	Last        int64  `json:"last"`
	Checkpoints int64  `json:"checkpoints"`
	Head        string `json:"head"`
	ChainOnly   bool   `json:"chainOnly"`
	Broken      string `json:"broken,omitempty"`
}

// Check checks store (see the package documentation). It returns an error
// only when it could not check; disagreements are in the report.
func Check(ctx context.Context, store posture.Store, opts Options) (*Report, error) {
	if opts.Limit <= 0 {
		opts.Limit = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// One instant for both views: exemptions end on the second.
	at := opts.Now().UTC()
	now := func() time.Time { return at }
	rep := &Report{At: at}
	err := store.Read(ctx, func(tx posture.Tx) error {
		policies := &compliance.Service{Store: snapshot{tx}, Registry: opts.Registry, Now: now, Logger: opts.Logger}
		var err error
		if rep.States, err = policies.Check(ctx, tx, compliance.CheckOptions{Limit: opts.Limit}); err != nil {
			return fmt.Errorf("policy states: %w", err)
		}
		if rep.Defender, err = checkDefender(ctx, tx, policies, rep.States.Fresh, opts, now); err != nil {
			return fmt.Errorf("assessments and scores: %w", err)
		}
		lr, err := audit.Verify(ctx, snapshot{tx}, audit.Range{}, opts.LedgerKeys...)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		rep.Ledger = &LedgerCheck{Entries: lr.Entries, First: lr.First, Last: lr.Last, Checkpoints: lr.Checkpoints,
			Head: hex.EncodeToString(lr.Head), ChainOnly: lr.ChainOnly}
		if lr.Broken != nil {
			rep.Ledger.Broken = lr.Broken.Error()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Consistent = rep.States.Disagreements == 0 && rep.Defender.Disagreements == 0 && rep.Ledger.Broken == ""
	return rep, nil
}

// checkDefender starts two Defender services, one over the stored states
// and one over the stored states patched with the fresh rows, and compares
// what they serve: each subscription's secure score and controls, and its
// assessments.
func checkDefender(ctx context.Context, tx posture.Tx, policies *compliance.Service, fresh []*posture.ResourceStates, opts Options, now posture.Clock) (*DefenderCheck, error) {
	catalog, err := defender.NewCatalog(opts.Registry)
	if err != nil {
		return nil, err
	}
	newView := func(tx posture.Tx) (*defender.Service, error) {
		s := &defender.Service{Store: snapshot{tx}, Catalog: catalog, Initiative: policies.InitiativeOf, Now: now,
			MitigatedAsHealthy: opts.MitigatedAsHealthy, Logger: opts.Logger}
		return s, s.Start(ctx)
	}
	stored, err := newView(tx)
	if err != nil {
		return nil, err
	}
	recomputed, err := newView(newPatchedTx(tx, fresh))
	if err != nil {
		return nil, err
	}
	dc := &DefenderCheck{}
	add := func(d Diff) {
		dc.Disagreements++
		if len(dc.Diffs) < opts.Limit {
			dc.Diffs = append(dc.Diffs, d)
		}
	}
	var subs []string
	f := posture.ResourceFilter{Types: []string{strings.ToLower(armid.SubscriptionType)}, Limit: 1000}
	for {
		rs, err := tx.ListResources(f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			subs = append(subs, r.ID)
		}
		if len(rs) < f.Limit {
			break
		}
		f.After = rs[len(rs)-1].Key
	}
	dc.Subscriptions = len(subs)
	for _, sub := range subs {
		a, err := scoreOf(ctx, stored, sub)
		if err != nil {
			return nil, err
		}
		b, err := scoreOf(ctx, recomputed, sub)
		if err != nil {
			return nil, err
		}
		dc.Scores = append(dc.Scores, SubscriptionScore{Subscription: sub, Stored: a, Fresh: b})
		if a != b {
			add(Diff{ID: sub, Problem: ProblemScore, Stored: a.String(), Fresh: b.String()})
		}
		ca, err := stored.SecureScoreControls(ctx, sub, false)
		if err != nil {
			return nil, err
		}
		cb, err := recomputed.SecureScoreControls(ctx, sub, false)
		if err != nil {
			return nil, err
		}
		compareDocs(ca, cb, ProblemControl, add)
		n, err := compareAssessments(ctx, stored, recomputed, sub, add)
		if err != nil {
			return nil, err
		}
		dc.Assessments += n
	}
	return dc, nil
}

// scoreOf reads a subscription's secure score from its document.
func scoreOf(ctx context.Context, s *defender.Service, sub string) (Score, error) {
	docs, err := s.SecureScores(ctx, sub)
	if err != nil || len(docs) == 0 {
		return Score{}, err
	}
	var doc struct {
		Properties struct {
			Score struct {
				Max        int     `json:"max"`
				Current    float64 `json:"current"`
				Percentage float64 `json:"percentage"`
			} `json:"score"`
			Weight int `json:"weight"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(docs[0].Body, &doc); err != nil {
		return Score{}, err
	}
	p := doc.Properties
	return Score{Current: p.Score.Current, Max: p.Score.Max, Percentage: p.Score.Percentage, Weight: p.Weight}, nil
}

// compareDocs compares two lists of documents by id and body.
func compareDocs(a, b []*posture.Resource, problem string, add func(Diff)) {
	byID := map[string]*posture.Resource{}
	for _, r := range b {
		byID[r.Key] = r
	}
	for _, r := range a {
		o := byID[r.Key]
		delete(byID, r.Key)
		switch {
		case o == nil:
			add(Diff{ID: r.ID, Problem: ProblemExtra, Stored: summary(r.Body)})
		case !bytes.Equal(r.Body, o.Body):
			add(Diff{ID: r.ID, Problem: problem, Stored: summary(r.Body), Fresh: summary(o.Body)})
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range byID {
			if !yield(k) {
				return
			}
		}
	}) {
		add(Diff{ID: byID[k].ID, Problem: ProblemMissing, Fresh: summary(byID[k].Body)})
	}
}

// compareAssessments lists a subscription's assessments from both views
// page by page. Both list in the same order, so documents that agree are
// matched within a page or two and dropped: what is held follows the
// differences, not the estate. It returns how many the stored view lists.
func compareAssessments(ctx context.Context, stored, recomputed *defender.Service, sub string, add func(Diff)) (int, error) {
	pending := [2]map[string]*posture.Resource{{}, {}}
	next := [2]string{}
	done := [2]bool{}
	views := [2]*defender.Service{stored, recomputed}
	n := 0
	for !done[0] || !done[1] {
		for i, v := range views {
			if done[i] {
				continue
			}
			page, err := v.ListAssessments(ctx, posture.AssessmentFilter{Scope: sub, After: next[i], Limit: 1000})
			if err != nil {
				return 0, err
			}
			for _, r := range page.Resources {
				pending[i][strings.ToLower(r.ID)] = r
			}
			if i == 0 {
				n += len(page.Resources)
			}
			next[i] = page.Next
			done[i] = page.Next == ""
		}
		for k, a := range pending[0] {
			if b := pending[1][k]; b != nil {
				if !bytes.Equal(a.Body, b.Body) {
					add(Diff{ID: a.ID, Problem: ProblemAssessment, Stored: summary(a.Body), Fresh: summary(b.Body)})
				}
				delete(pending[0], k)
				delete(pending[1], k)
			}
		}
	}
	var left []*posture.Resource
	for _, r := range pending[0] {
		left = append(left, r)
	}
	slices.SortFunc(left, func(a, b *posture.Resource) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range left {
		add(Diff{ID: r.ID, Problem: ProblemExtra, Stored: summary(r.Body)})
	}
	left = left[:0]
	for _, r := range pending[1] {
		left = append(left, r)
	}
	slices.SortFunc(left, func(a, b *posture.Resource) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range left {
		add(Diff{ID: r.ID, Problem: ProblemMissing, Fresh: summary(r.Body)})
	}
	return n, nil
}

// summary is what a person needs of an assessment, score or control
// document: its status (code, cause, description) or its score and counts.
func summary(body []byte) string {
	var doc struct {
		Properties struct {
			Status *struct {
				Code        string `json:"code"`
				Cause       string `json:"cause"`
				Description string `json:"description"`
			} `json:"status"`
			Score *struct {
				Current float64 `json:"current"`
				Max     int     `json:"max"`
			} `json:"score"`
			Healthy       *int `json:"healthyResourceCount"`
			Unhealthy     *int `json:"unhealthyResourceCount"`
			NotApplicable *int `json:"notApplicableResourceCount"`
		} `json:"properties"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return string(body)
	}
	p := doc.Properties
	switch {
	case p.Status != nil:
		s := p.Status.Code
		if p.Status.Cause != "" {
			s += " (" + p.Status.Cause + ")"
		}
		if p.Status.Description != "" {
			s += ": " + p.Status.Description
		}
		return s
	case p.Score != nil && p.Healthy != nil:
		return fmt.Sprintf("%.2f/%d, healthy %d, unhealthy %d, not applicable %d", p.Score.Current, p.Score.Max, *p.Healthy, *p.Unhealthy, *p.NotApplicable)
	case p.Score != nil:
		return fmt.Sprintf("%.2f/%d", p.Score.Current, p.Score.Max)
	}
	return string(body)
}

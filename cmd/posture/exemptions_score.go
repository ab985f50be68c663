package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/client"
	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

// codeScoreImpact is the secure score the plan's writes would leave, per
// subscription, from the batch preview API, and the policy states its
// deletions would re-open.
type codeScoreImpact struct {
	Scores []posture.ScorePreview `json:"scores"`
	// Reopened counts the policy states (and their resources) that the
	// deletions hold now; the scores do not count them.
	Reopened          int `json:"reopenedStates"`
	ReopenedResources int `json:"reopenedResources"`
	// Notes say what the scores leave out.
	Notes []string `json:"notes"`
}

// codePreviewItem is one exemption of a batch preview.
type codePreviewItem struct {
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
	desired    *exemptplan.Desired
}

// codePreviewBatch is what one preview call sends.
type codePreviewBatch struct {
	items     []codePreviewItem
	deletions []string
}

func (b codePreviewBatch) size() int { return len(b.items) + len(b.deletions) }

// codeMaxPreviewRetries bounds the previews re-sent after one of their
// exemptions was refused.
const codeMaxPreviewRetries = 20

// codePreviewScores asks the server for the secure score after the plan's
// creates, updates and re-binds, and what its deletions re-open. The
// preview takes at most api.MaxPreviewExemptions a call and scores are not
// additive, so more than that are previewed a subscription at a time (with
// the management group changes, which reach into every subscription), and
// a subscription with more than the limit is left out, and said so. An
// exemption the server refuses is a problem of its entry: the preview
// checks it as a PUT would, governance rules included.
func codePreviewScores(ctx context.Context, cl *client.Client, plan *exemptplan.Result) (*codeScoreImpact, desired.Problems) {
	out := &codeScoreImpact{Scores: []posture.ScorePreview{}, Notes: []string{}}
	all := codePreviewBatch{}
	for _, a := range plan.Actions {
		switch {
		case a.Desired != nil && a.Kind != exemptplan.NoChange:
			all.items = append(all.items, codePreviewItem{ID: a.ID, Properties: a.Desired.Properties(), desired: a.Desired})
		case a.Kind == exemptplan.Delete:
			all.deletions = append(all.deletions, a.ID)
		}
	}
	if all.size() == 0 {
		return out, nil
	}
	resources := map[string]bool{}
	var problems desired.Problems
	run := func(b codePreviewBatch, sub, what string) {
		scores, reopened, probs, err := codeSendPreview(ctx, cl, b)
		problems = append(problems, probs...)
		if err != nil {
			out.Notes = append(out.Notes, what+"no score: "+message(err))
			return
		}
		for _, s := range scores {
			if sub == "" || strings.EqualFold(s.SubscriptionID, sub) {
				out.Scores = append(out.Scores, s)
			}
		}
		for _, cs := range reopened {
			if sub == "" || strings.EqualFold(cs.SubscriptionID, sub) {
				out.Reopened++
				resources[strings.ToLower(cs.ResourceID)] = true
			}
		}
	}
	if all.size() <= api.MaxPreviewExemptions {
		run(all, "", "")
	} else {
		bySub, shared := map[string]*codePreviewBatch{}, codePreviewBatch{}
		batchOf := func(id string) *codePreviewBatch {
			sub := codeSubscriptionOf(id)
			if sub == "" {
				return &shared
			}
			if bySub[sub] == nil {
				bySub[sub] = &codePreviewBatch{}
			}
			return bySub[sub]
		}
		for _, it := range all.items {
			b := batchOf(it.ID)
			b.items = append(b.items, it)
		}
		for _, id := range all.deletions {
			b := batchOf(id)
			b.deletions = append(b.deletions, id)
		}
		for _, sub := range slices.Sorted(maps.Keys(bySub)) {
			b := codePreviewBatch{slices.Concat(bySub[sub].items, shared.items), slices.Concat(bySub[sub].deletions, shared.deletions)}
			if b.size() > api.MaxPreviewExemptions {
				out.Notes = append(out.Notes, fmt.Sprintf("Subscription %s: %d exemptions to write or delete, more than the %d one preview takes; its score is not computed.", sub, b.size(), api.MaxPreviewExemptions))
				continue
			}
			run(b, sub, "Subscription "+sub+": ")
		}
		if len(bySub) == 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("%d management group changes, more than the %d one preview takes; no score is computed.", shared.size(), api.MaxPreviewExemptions))
		}
	}
	out.ReopenedResources = len(resources)
	if n := len(all.deletions); n > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("Deleting %d exemptions re-opens %d policy states of %d resources; the scores do not count that (the preview can add exemptions, not take them away).", n, out.Reopened, out.ReopenedResources))
	}
	return out, problems
}

// codeTargetIndex reads the exemption index of a preview error's target,
// "exemptions[3].properties.expiresOn".
var codeTargetIndex = regexp.MustCompile(`^exemptions\[(\d+)\]\.?(.*)$`)

// codeSendPreview sends one batch; an exemption the server refuses becomes
// a problem and the rest are sent again.
func codeSendPreview(ctx context.Context, cl *client.Client, b codePreviewBatch) ([]posture.ScorePreview, []posture.CoveredState, desired.Problems, error) {
	var problems desired.Problems
	items := b.items
	for range codeMaxPreviewRetries {
		if len(items)+len(b.deletions) == 0 {
			return nil, nil, problems, nil
		}
		var p struct {
			posture.ExemptionPreview
			Reopened []posture.CoveredState `json:"reopened"`
		}
		body := map[string]any{"apiVersion": codeExemptionVersion, "exemptions": items, "deletions": b.deletions}
		_, err := cl.Do(ctx, http.MethodPost, "/providers/Posture.Security/previewExemptions", api.PostureAPIVersion, nil, body, &p)
		if err == nil {
			return p.Scores, p.Reopened, problems, nil
		}
		var pe *posture.Error
		if !errors.As(err, &pe) || pe.Kind != posture.EINVALID && pe.Kind != posture.ENOTFOUND {
			return nil, nil, problems, err
		}
		m := codeTargetIndex.FindStringSubmatch(pe.Target)
		if m == nil {
			return nil, nil, problems, err
		}
		i, _ := strconv.Atoi(m[1])
		if i >= len(items) {
			return nil, nil, problems, err
		}
		d := items[i].desired
		field := codeFieldOf(m[2])
		problems = append(problems, desired.Problem{Pos: codeEntryPos(d.Entry, field), Field: field, Code: pe.Code,
			Message: fmt.Sprintf("the server refuses the exemption %s: %s", d.ID, pe.Message)})
		items = slices.Delete(slices.Clone(items), i, i+1)
	}
	return nil, nil, problems, fmt.Errorf("more than %d exemptions refused; the preview gave up", codeMaxPreviewRetries)
}

// codeFieldOf maps a property of the API ("properties.expiresOn") to the
// field of a desired entry.
func codeFieldOf(target string) string {
	p, _ := strings.CutPrefix(target, "properties.")
	p, _, _ = strings.Cut(p, "[")
	switch p {
	case "policyAssignmentId":
		return "assignment"
	case "exemptionCategory":
		return "category"
	case "policyDefinitionReferenceIds", "expiresOn", "displayName", "description", "metadata", "resourceSelectors", "resourceFilter", "assignmentScopeValidation":
		return p
	case "id", "":
		return "scopes"
	}
	return p
}

// codeEntryPos is where a field of an entry is, the entry's start when the
// field has no position of its own.
func codeEntryPos(e *desired.Entry, field string) desired.Pos {
	if p, ok := e.Fields[field]; ok {
		return p
	}
	return e.Pos
}

// codeSubscriptionOf is the subscription id an exemption id is under, "" for
// management groups and the tenant.
func codeSubscriptionOf(id string) string {
	rest, ok := strings.CutPrefix(strings.ToLower(id), "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return sub
}

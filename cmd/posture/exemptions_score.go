package main

import (
	"context"
	"errors"
	"fmt"
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
// subscription, from the batch preview API.
type codeScoreImpact struct {
	Scores []posture.ScorePreview `json:"scores"`
	// Notes say what the scores leave out.
	Notes []string `json:"notes"`
}

// codePreviewItem is one exemption of a batch preview.
type codePreviewItem struct {
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties"`
	desired    *exemptplan.Desired
}

// codeMaxPreviewRetries bounds the previews re-sent after one of their
// exemptions was refused.
const codeMaxPreviewRetries = 20

// codePreviewScores asks the server for the secure score after the plan's
// creates, updates and re-binds. The preview takes at most
// api.MaxPreviewExemptions exemptions a call and scores are not additive,
// so more than that are previewed a subscription at a time (with the
// management group exemptions, which reach into every subscription), and a
// subscription with more than the limit is left out, and said so. An
// exemption the server refuses is a problem of its entry: the preview
// checks it as a PUT would, governance rules included.
func codePreviewScores(ctx context.Context, cl *client.Client, plan *exemptplan.Result) (*codeScoreImpact, desired.Problems) {
	out := &codeScoreImpact{Scores: []posture.ScorePreview{}, Notes: []string{}}
	var items []codePreviewItem
	deletes := 0
	for _, a := range plan.Actions {
		switch {
		case a.Desired != nil && a.Kind != exemptplan.NoChange:
			items = append(items, codePreviewItem{ID: a.ID, Properties: a.Desired.Properties(), desired: a.Desired})
		case a.Kind == exemptplan.Delete:
			deletes++
		}
	}
	if deletes > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("The %d deletions are not in these scores: the preview adds exemptions, it cannot take them away.", deletes))
	}
	if len(items) == 0 {
		return out, nil
	}
	var problems desired.Problems
	if len(items) <= api.MaxPreviewExemptions {
		scores, probs, err := codePreviewBatch(ctx, cl, items)
		problems = append(problems, probs...)
		if err != nil {
			out.Notes = append(out.Notes, "No score: "+message(err))
		}
		out.Scores = scores
		return out, problems
	}
	bySub, shared := map[string][]codePreviewItem{}, []codePreviewItem(nil)
	for _, it := range items {
		if sub := codeSubscriptionOf(it.ID); sub != "" {
			bySub[sub] = append(bySub[sub], it)
		} else {
			shared = append(shared, it)
		}
	}
	for _, sub := range slices.Sorted(func(yield func(string) bool) {
		for s := range bySub {
			if !yield(s) {
				return
			}
		}
	}) {
		batch := slices.Concat(bySub[sub], shared)
		if len(batch) > api.MaxPreviewExemptions {
			out.Notes = append(out.Notes, fmt.Sprintf("Subscription %s: %d exemptions to write, more than the %d one preview takes; its score is not computed.", sub, len(batch), api.MaxPreviewExemptions))
			continue
		}
		scores, probs, err := codePreviewBatch(ctx, cl, batch)
		problems = append(problems, probs...)
		if err != nil {
			out.Notes = append(out.Notes, fmt.Sprintf("Subscription %s: no score: %s", sub, message(err)))
			continue
		}
		for _, s := range scores {
			if strings.EqualFold(s.SubscriptionID, sub) {
				out.Scores = append(out.Scores, s)
			}
		}
	}
	if len(shared) > 0 && len(bySub) == 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d management group exemptions, more than the %d one preview takes; no score is computed.", len(shared), api.MaxPreviewExemptions))
	}
	return out, problems
}

// codeTargetIndex reads the exemption index of a preview error's target,
// "exemptions[3].properties.expiresOn".
var codeTargetIndex = regexp.MustCompile(`^exemptions\[(\d+)\]\.?(.*)$`)

// preview sends one batch; an exemption the server refuses becomes a
// problem and the rest are sent again.
func codePreviewBatch(ctx context.Context, cl *client.Client, items []codePreviewItem) ([]posture.ScorePreview, desired.Problems, error) {
	var problems desired.Problems
	for range codeMaxPreviewRetries {
		if len(items) == 0 {
			return nil, problems, nil
		}
		var p posture.ExemptionPreview
		body := map[string]any{"apiVersion": codeExemptionVersion, "exemptions": items}
		_, err := cl.Do(ctx, http.MethodPost, "/providers/Posture.Security/previewExemptions", api.PostureAPIVersion, nil, body, &p)
		if err == nil {
			return p.Scores, problems, nil
		}
		var pe *posture.Error
		if !errors.As(err, &pe) || pe.Kind != posture.EINVALID && pe.Kind != posture.ENOTFOUND {
			return nil, problems, err
		}
		m := codeTargetIndex.FindStringSubmatch(pe.Target)
		if m == nil {
			return nil, problems, err
		}
		i, _ := strconv.Atoi(m[1])
		if i >= len(items) {
			return nil, problems, err
		}
		d := items[i].desired
		field := codeFieldOf(m[2])
		problems = append(problems, desired.Problem{Pos: codeEntryPos(d.Entry, field), Field: field, Code: pe.Code,
			Message: fmt.Sprintf("the server refuses the exemption %s: %s", d.ID, pe.Message)})
		items = slices.Delete(slices.Clone(items), i, i+1)
	}
	return nil, problems, fmt.Errorf("more than %d exemptions refused; the preview gave up", codeMaxPreviewRetries)
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

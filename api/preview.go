package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// MaxPreviewExemptions bounds one batch preview: exemptions and deletions
// together.
const MaxPreviewExemptions = 500

// registerPreview serves POST /providers/Posture.Security/previewExemptions
// (posture's own): several exemptions previewed together, as the portal's
// Exempt form creates them (one per selected resource). Their coverage is
// merged and the secure score is computed once over all of them, which
// previewing each alone cannot give: scores are not additive.
//
// "deletions" names existing exemptions a change would delete (posture
// exemptions plan sends its deletes). The scores cannot take exemptions
// away, so they do not count deletions; the answer's "reopened" lists the
// policy states the deleted exemptions hold now, which would re-open.
func (s *Server) registerPreview() {
	s.handle("Posture.Security/previewExemptions", &typeRoutes{versions: postureVersions, post: previewExemptions, postReads: true,
		// Each exemption is checked in the handler, as its own preview
		// action would be: read on exemptions at its id.
		authorize: func(*call) error { return nil }})
}

type previewBatch struct {
	// APIVersion is the exemptions API version the bodies are read with
	// (default 2022-07-01-preview, the SDKs').
	APIVersion string `json:"apiVersion"`
	Exemptions []struct {
		ID         string          `json:"id"`
		Properties json.RawMessage `json:"properties"`
	} `json:"exemptions"`
	Deletions []string `json:"deletions"`
}

// batchPreview is the answer: the merged preview and what deletions
// re-open.
type batchPreview struct {
	*posture.ExemptionPreview
	Reopened []posture.CoveredState `json:"reopened,omitempty"`
}

func previewExemptions(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	var in previewBatch
	if err := json.Unmarshal(body, &in); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The body must be {\"exemptions\":[{\"id\":…,\"properties\":{…}}]}: %v.", err)
	}
	switch n := len(in.Exemptions) + len(in.Deletions); {
	case n == 0:
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "Name at least one exemption to preview.").WithTarget("exemptions")
	case n > MaxPreviewExemptions:
		return posture.Errorf(posture.EINVALID, "TooManyExemptions", "A preview takes at most %d exemptions and deletions; %d were sent.", MaxPreviewExemptions, n).WithTarget("exemptions")
	}
	version := in.APIVersion
	if version == "" {
		version = "2022-07-01-preview"
	}
	if !slices.Contains(exemptionVersions, version) {
		return posture.Errorf(posture.EINVALID, "InvalidApiVersionParameter", "apiVersion '%s' is not a version of policy exemptions (%s).", clip(version), strings.Join(exemptionVersions, ", ")).WithTarget("apiVersion")
	}
	merged := &posture.ExemptionPreview{Covered: []posture.CoveredState{}, Future: []string{}, Warnings: []string{}}
	seen := map[string]bool{}
	category := ""
	for i, x := range in.Exemptions {
		target := fmt.Sprintf("exemptions[%d]", i)
		if err := c.s.Authz.Authorize(c.principal, "Microsoft.Authorization/policyExemptions/read", x.ID); err != nil {
			return err
		}
		doc, _ := json.Marshal(map[string]json.RawMessage{"properties": x.Properties})
		p, err := c.s.Exemptions.PreviewExemption(c.ctx, posture.ExemptionWrite{ID: x.ID, Body: doc, APIVersion: version})
		if err != nil {
			if pe, ok := err.(*posture.Error); ok {
				cp := *pe
				cp.Target = strings.TrimSuffix(target+"."+pe.Target, ".")
				return &cp
			}
			return err
		}
		for _, cs := range p.Covered {
			k := strings.ToLower(cs.ResourceID + "|" + cs.AssignmentID + "|" + cs.ReferenceID)
			if !seen[k] {
				seen[k] = true
				merged.Covered = append(merged.Covered, cs)
			}
		}
		merged.Future = append(merged.Future, p.Future...)
		merged.Warnings = append(merged.Warnings, p.Warnings...)
		if xe, _, err := exemption.FromDocument(p.Exemption); err == nil && category == "" {
			category = string(xe.Category)
		}
	}
	if sp, ok := c.s.Security.(posture.ScorePreviewer); ok && len(in.Exemptions) > 0 {
		sp.PreviewScores(merged, category)
	}
	reopened, err := c.reopened(in.Deletions)
	if err != nil {
		return err
	}
	out, err := json.Marshal(batchPreview{merged, reopened})
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, out)
}

// reopened lists the policy states the exemptions ids name hold now: what
// deleting them re-opens. Each is previewed as it is stored; a state
// another exemption holds is not re-opened. An exemption that is gone, or
// whose assignment is, holds nothing.
func (c *call) reopened(ids []string) ([]posture.CoveredState, error) {
	var out []posture.CoveredState
	for i, id := range ids {
		if err := c.s.Authz.Authorize(c.principal, "Microsoft.Authorization/policyExemptions/read", id); err != nil {
			return nil, err
		}
		r, err := c.s.Exemptions.GetExemption(c.ctx, id)
		if posture.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := c.s.Exemptions.PreviewExemption(c.ctx, posture.ExemptionWrite{ID: r.ID, Body: r.Body, APIVersion: exemption.StoredVersion})
		if err != nil {
			if pe, ok := err.(*posture.Error); ok && pe.Kind != posture.EINTERNAL {
				continue // no longer valid (an orphan): it covers nothing
			}
			return nil, fmt.Errorf("deletions[%d]: %w", i, err)
		}
		for _, cs := range p.Covered {
			if !cs.AlreadyExempt {
				out = append(out, cs)
			}
		}
	}
	return out, nil
}

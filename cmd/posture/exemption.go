package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/client"
)

// exemptionAPIVersion is the policyExemptions version the CLI speaks.
const exemptionAPIVersion = "2022-07-01-preview"

// ExemptionCmd groups the exemption subcommands (like az policy exemption).
type ExemptionCmd struct {
	Create  ExemptionCreateCmd  `cmd:"" help:"Create or replace an exemption."`
	Preview ExemptionPreviewCmd `cmd:"" help:"Show what an exemption would cover and do to the secure score, without writing it."`
	Show    ExemptionShowCmd    `cmd:"" help:"Show an exemption."`
	List    ExemptionListCmd    `cmd:"" help:"List the exemptions visible at a scope."`
	Update  ExemptionUpdateCmd  `cmd:"" help:"Change an exemption: resource selectors and scope validation by PATCH, other properties by GET and PUT with the ETag (a concurrent change is refused, not overwritten)."`
	Delete  ExemptionDeleteCmd  `cmd:"" help:"Delete an exemption."`
	History ExemptionHistoryCmd `cmd:"" help:"Show an exemption's history: every create, update, delete and expiry."`
	Explain ExemptionExplainCmd `cmd:"" help:"Explain why an exemption does or does not cover a resource."`
}

// exemptionTarget names one exemption.
type exemptionTarget struct {
	ClientFlags
	Data  string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope string `required:"" help:"Scope: a management group, subscription, resource group or resource id."`
	Name  string `short:"n" required:"" help:"Exemption name."`
}

func (t *exemptionTarget) path(suffix string) string {
	return strings.TrimSuffix(t.Scope, "/") + "/providers/Microsoft.Authorization/policyExemptions/" + url.PathEscape(t.Name) + suffix
}

// exemptionProps are the flags of an exemption body.
type exemptionProps struct {
	Assignment  string            `short:"a" required:"" help:"Policy assignment id (e.g. /subscriptions/{id}/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn)."`
	Category    string            `short:"e" required:"" enum:"Waiver,Mitigated,waiver,mitigated" help:"Waiver (risk accepted) or Mitigated (handled another way)."`
	References  []string          `short:"r" help:"policyDefinitionReferenceIds within the assignment's initiative (default: all)."`
	ExpiresOn   string            `help:"Expiry, RFC 3339 (e.g. 2027-01-31T00:00:00Z) or a duration from now (e.g. 720h)."`
	DisplayName string            `help:"Display name."`
	Description string            `help:"Justification."`
	Metadata    map[string]string `help:"Metadata key=value pairs (e.g. ticketRef=CHG-42)."`
	ScopeCheck  string            `name:"assignment-scope-validation" enum:",Default,DoNotValidate" default:"" help:"Default, or DoNotValidate to exempt outside the assignment's scope."`
}

func (p *exemptionProps) body(now time.Time) (map[string]any, error) {
	props := map[string]any{"policyAssignmentId": p.Assignment, "exemptionCategory": p.Category}
	if len(p.References) > 0 {
		props["policyDefinitionReferenceIds"] = p.References
	}
	if p.ExpiresOn != "" {
		exp, err := parseExpiry(p.ExpiresOn, now)
		if err != nil {
			return nil, err
		}
		props["expiresOn"] = exp
	}
	for k, v := range map[string]string{"displayName": p.DisplayName, "description": p.Description, "assignmentScopeValidation": p.ScopeCheck} {
		if v != "" {
			props[k] = v
		}
	}
	if len(p.Metadata) > 0 {
		props["metadata"] = p.Metadata
	}
	return map[string]any{"properties": props}, nil
}

// ExemptionCreateCmd is `posture exemption create`.
type ExemptionCreateCmd struct {
	exemptionTarget
	exemptionProps
	OutputFlags
}

// send sends an exemption body built from the flags to the target and
// says the answer's warnings (an expiry already past) on stderr.
func send(ctx context.Context, streams *IO, t *exemptionTarget, p *exemptionProps, method, suffix string, out any) error {
	cl, err := t.client(t.Data)
	if err != nil {
		return err
	}
	body, err := p.body(time.Now())
	if err != nil {
		return err
	}
	_, h, err := cl.Send(ctx, method, t.path(suffix), exemptionAPIVersion, nil, nil, body, out)
	if err != nil {
		return err
	}
	printWarnings(streams, h)
	return nil
}

// printWarnings writes an answer's Warning headers (RFC 9111 §5.5) to
// stderr: 299 - "text" becomes "warning: text".
func printWarnings(streams *IO, h http.Header) {
	for _, w := range h.Values("Warning") {
		text := w
		if _, rest, ok := strings.Cut(w, `"`); ok {
			text = strings.TrimSuffix(rest, `"`)
		}
		fmt.Fprintln(streams.Err, "warning:", text)
	}
}

func (c *ExemptionCreateCmd) Run(ctx context.Context, streams *IO) error {
	var out json.RawMessage
	if err := send(ctx, streams, &c.exemptionTarget, &c.exemptionProps, "PUT", "", &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// ExemptionPreviewCmd is `posture exemption preview`.
type ExemptionPreviewCmd struct {
	exemptionTarget
	exemptionProps
	OutputFlags
}

// Run prints a summary (table), the whole preview (json, yaml) or the
// policy states covered now (csv).
func (c *ExemptionPreviewCmd) Run(ctx context.Context, streams *IO) error {
	var p posture.ExemptionPreview
	if err := send(ctx, streams, &c.exemptionTarget, &c.exemptionProps, "POST", "/preview", &p); err != nil {
		return err
	}
	v := view{Data: p, Columns: []string{"resourceId", "subscriptionId", "policyDefinitionReferenceId", "complianceState", "alreadyExempt"}}
	for _, s := range p.Covered {
		v.Rows = append(v.Rows, []any{s.ResourceID, s.SubscriptionID, s.ReferenceID, s.State, s.AlreadyExempt})
	}
	v.Text = func(out io.Writer) error { return previewSummary(out, &p) }
	return c.print(streams.Out, formatTable, v)
}

func previewSummary(out io.Writer, p *posture.ExemptionPreview) error {
	resources := map[string]bool{}
	already := 0
	for _, s := range p.Covered {
		resources[s.ResourceID] = true
		if s.AlreadyExempt {
			already++
		}
	}
	fmt.Fprintf(out, "Covers %d policy states of %d resources now (%d already exempted by another exemption).\n", len(p.Covered), len(resources), already)
	for _, f := range p.Future {
		fmt.Fprintln(out, f)
	}
	if len(p.Scores) > 0 {
		w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "\nSUBSCRIPTION\tSCORE NOW\tAFTER\tWITHOUT ANY EXEMPTION")
		for _, s := range p.Scores {
			fmt.Fprintf(w, "%s\t%.2f%%\t%.2f%%\t%.2f%%\n", s.SubscriptionID, 100*s.Before.Percentage, 100*s.After.Percentage, 100*s.Raw.Percentage)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintln(out, "warning:", warn)
	}
	return nil
}

// ExemptionShowCmd is `posture exemption show`.
type ExemptionShowCmd struct {
	exemptionTarget
	OutputFlags
}

func (c *ExemptionShowCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if _, err := cl.Do(ctx, "GET", c.path(""), exemptionAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// ExemptionDeleteCmd is `posture exemption delete`.
type ExemptionDeleteCmd struct{ exemptionTarget }

func (c *ExemptionDeleteCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	status, err := cl.Do(ctx, "DELETE", c.path(""), exemptionAPIVersion, nil, nil, nil)
	if err != nil {
		return err
	}
	if status == 204 {
		fmt.Fprintln(streams.Out, "no such exemption; nothing deleted")
	} else {
		fmt.Fprintln(streams.Out, "deleted")
	}
	return nil
}

// ExemptionHistoryCmd is `posture exemption history`.
type ExemptionHistoryCmd struct {
	exemptionTarget
	OutputFlags
}

func (c *ExemptionHistoryCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var out struct {
		Value []json.RawMessage `json:"value"`
	}
	if _, err := cl.Do(ctx, "GET", c.path("/history"), exemptionAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	v := view{Data: out.Value, Columns: []string{"sequence", "time", "kind", "actor", "actorType"}}
	for _, raw := range out.Value {
		var e struct {
			Sequence               int64
			Kind, Actor, ActorType string
			Time                   string
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		v.Rows = append(v.Rows, []any{e.Sequence, e.Time, e.Kind, e.Actor, e.ActorType})
	}
	return c.print(streams.Out, formatTable, v)
}

// ExemptionListCmd is `posture exemption list`.
type ExemptionListCmd struct {
	ClientFlags
	Data   string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope  string `required:"" help:"Scope to list at: a management group, subscription, resource group or resource id."`
	Filter string `help:"Azure's $filter: atScope(), atExactScope(), excludeExpired() or policyAssignmentId eq '…'."`
	OutputFlags
}

// Run reads every page (with a progress line on a terminal) and prints
// the exemptions: the API's documents for json and yaml.
func (c *ExemptionListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, cl, strings.TrimSuffix(c.Scope, "/")+"/providers/Microsoft.Authorization/policyExemptions", exemptionAPIVersion, c.Filter,
		newProgress(streams.Err, "listing").unit("exemptions"))
	if err != nil {
		return err
	}
	v := view{Data: all, Columns: []string{"name", "category", "status", "expires", "references", "id"}}
	for _, raw := range all {
		var it struct {
			ID         string `json:"id"`
			Name       string `json:"name"`
			Properties struct {
				ExemptionCategory            string   `json:"exemptionCategory"`
				ExpiresOn                    string   `json:"expiresOn"`
				PostureStatus                string   `json:"postureStatus"`
				PolicyDefinitionReferenceIDs []string `json:"policyDefinitionReferenceIds"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return err
		}
		refs := strings.Join(it.Properties.PolicyDefinitionReferenceIDs, ",")
		if refs == "" {
			refs = "(all)"
		}
		exp := it.Properties.ExpiresOn
		if exp == "" {
			exp = "never"
		}
		v.Rows = append(v.Rows, []any{it.Name, it.Properties.ExemptionCategory, it.Properties.PostureStatus, exp, refs, it.ID})
	}
	return c.print(streams.Out, formatTable, v)
}

// listAll reads every page of an ARM list ({"value":[…],"nextLink":…}),
// counting the items on bar.
func listAll(ctx context.Context, cl *client.Client, path, apiVersion, filter string, bar *progress) ([]json.RawMessage, error) {
	defer bar.done()
	all := []json.RawMessage{}
	q := url.Values{}
	if filter != "" {
		q.Set("$filter", filter)
	}
	for {
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if _, err := cl.Do(ctx, "GET", path, apiVersion, q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		bar.add(len(page.Value), "")
		if page.NextLink == "" {
			return all, nil
		}
		u, err := url.Parse(page.NextLink)
		if err != nil {
			return nil, err
		}
		// The next page is the same request with the link's query: its
		// $skipToken and whatever else the server put there.
		for k, vs := range u.Query() {
			if k != "api-version" {
				q[k] = vs
			}
		}
	}
}

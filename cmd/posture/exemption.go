package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posture/posture"
)

// exemptionAPIVersion is the policyExemptions version the CLI speaks.
const exemptionAPIVersion = "2022-07-01-preview"

// ExemptionCmd groups the exemption subcommands (like az policy exemption).
type ExemptionCmd struct {
	Create  ExemptionCreateCmd  `cmd:"" help:"Create or replace an exemption."`
	Preview ExemptionPreviewCmd `cmd:"" help:"Show what an exemption would cover and do to the secure score, without writing it."`
	Show    ExemptionShowCmd    `cmd:"" help:"Show an exemption."`
	List    ExemptionListCmd    `cmd:"" help:"List the exemptions visible at a scope."`
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
		if d, err := time.ParseDuration(p.ExpiresOn); err == nil {
			props["expiresOn"] = now.Add(d).UTC().Truncate(time.Second).Format(time.RFC3339)
		} else if t, err := time.Parse(time.RFC3339, p.ExpiresOn); err == nil {
			props["expiresOn"] = t.UTC().Format(time.RFC3339)
		} else {
			return nil, usageError{fmt.Errorf("--expires-on %q: give an RFC 3339 time or a duration", p.ExpiresOn)}
		}
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

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ExemptionCreateCmd is `posture exemption create`.
type ExemptionCreateCmd struct {
	exemptionTarget
	exemptionProps
}

// send sends an exemption body built from the flags to the target.
func send(ctx context.Context, t *exemptionTarget, p *exemptionProps, method, suffix string, out any) error {
	cl, err := t.client(t.Data)
	if err != nil {
		return err
	}
	body, err := p.body(time.Now())
	if err != nil {
		return err
	}
	_, err = cl.Do(ctx, method, t.path(suffix), exemptionAPIVersion, nil, body, out)
	return err
}

func (c *ExemptionCreateCmd) Run(ctx context.Context, streams *IO) error {
	var out json.RawMessage
	if err := send(ctx, &c.exemptionTarget, &c.exemptionProps, "PUT", "", &out); err != nil {
		return err
	}
	return printJSON(streams.Out, out)
}

// ExemptionPreviewCmd is `posture exemption preview`.
type ExemptionPreviewCmd struct {
	exemptionTarget
	exemptionProps
	JSON bool `help:"Print the whole preview as JSON."`
}

func (c *ExemptionPreviewCmd) Run(ctx context.Context, streams *IO) error {
	var p posture.ExemptionPreview
	if err := send(ctx, &c.exemptionTarget, &c.exemptionProps, "POST", "/preview", &p); err != nil {
		return err
	}
	if c.JSON {
		return printJSON(streams.Out, p)
	}
	resources := map[string]bool{}
	already := 0
	for _, s := range p.Covered {
		resources[s.ResourceID] = true
		if s.AlreadyExempt {
			already++
		}
	}
	fmt.Fprintf(streams.Out, "Covers %d policy states of %d resources now (%d already exempted by another exemption).\n", len(p.Covered), len(resources), already)
	for _, f := range p.Future {
		fmt.Fprintln(streams.Out, f)
	}
	if len(p.Scores) > 0 {
		w := tabwriter.NewWriter(streams.Out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "\nSUBSCRIPTION\tSCORE NOW\tAFTER\tWITHOUT ANY EXEMPTION")
		for _, s := range p.Scores {
			fmt.Fprintf(w, "%s\t%.2f%%\t%.2f%%\t%.2f%%\n", s.SubscriptionID, 100*s.Before.Percentage, 100*s.After.Percentage, 100*s.Raw.Percentage)
		}
		w.Flush()
	}
	for _, warn := range p.Warnings {
		fmt.Fprintln(streams.Out, "warning:", warn)
	}
	return nil
}

// ExemptionShowCmd is `posture exemption show`.
type ExemptionShowCmd struct{ exemptionTarget }

func (c *ExemptionShowCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if _, err := cl.Do(ctx, "GET", c.path(""), exemptionAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	return printJSON(streams.Out, out)
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
type ExemptionHistoryCmd struct{ exemptionTarget }

func (c *ExemptionHistoryCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	var out struct {
		Value []struct {
			Sequence               int64
			Kind, Actor, ActorType string
			Time                   string
		}
	}
	if _, err := cl.Do(ctx, "GET", c.path("/history"), exemptionAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	w := tabwriter.NewWriter(streams.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME\tEVENT\tBY")
	for _, e := range out.Value {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s (%s)\n", e.Sequence, e.Time, e.Kind, e.Actor, e.ActorType)
	}
	return w.Flush()
}

// ExemptionListCmd is `posture exemption list`.
type ExemptionListCmd struct {
	ClientFlags
	Data   string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope  string `required:"" help:"Scope to list at: a management group, subscription, resource group or resource id."`
	Filter string `help:"Azure's $filter: atScope(), atExactScope(), excludeExpired() or policyAssignmentId eq '…'."`
	JSON   bool   `help:"Print JSON instead of a table."`
}

func (c *ExemptionListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	type item struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Properties struct {
			ExemptionCategory            string   `json:"exemptionCategory"`
			ExpiresOn                    string   `json:"expiresOn"`
			PostureStatus                string   `json:"postureStatus"`
			PolicyDefinitionReferenceIDs []string `json:"policyDefinitionReferenceIds"`
		} `json:"properties"`
	}
	var all []json.RawMessage
	q := url.Values{}
	if c.Filter != "" {
		q.Set("$filter", c.Filter)
	}
	for {
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if _, err := cl.Do(ctx, "GET", strings.TrimSuffix(c.Scope, "/")+"/providers/Microsoft.Authorization/policyExemptions", exemptionAPIVersion, q, nil, &page); err != nil {
			return err
		}
		all = append(all, page.Value...)
		if page.NextLink == "" {
			break
		}
		u, err := url.Parse(page.NextLink)
		if err != nil {
			return err
		}
		q.Set("$skipToken", u.Query().Get("$skipToken"))
	}
	if c.JSON {
		return printJSON(streams.Out, all)
	}
	w := tabwriter.NewWriter(streams.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tCATEGORY\tSTATUS\tEXPIRES\tREFERENCES\tID")
	for _, raw := range all {
		var it item
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Name, it.Properties.ExemptionCategory, it.Properties.PostureStatus, exp, clipText(refs, 60), it.ID)
	}
	return w.Flush()
}

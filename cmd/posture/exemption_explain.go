package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/client"
	"github.com/posture/posture/match"
)

// ExemptionExplainCmd is `posture exemption explain`: why an exemption does
// or does not cover a resource, check by check, with the resource filter's
// explanation and the resource's policy states under the assignment.
type ExemptionExplainCmd struct {
	ClientFlags
	Data     string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Name     string `arg:"" help:"Exemption name."`
	Resource string `required:"" help:"The resource id to explain the exemption for."`
	Scope    string `help:"The exemption's scope (default: the one exemption of that name at or above the resource)."`
	OutputFlags
}

func (c *ExemptionExplainCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	id := ""
	if c.Scope != "" {
		t := exemptionTarget{Scope: c.Scope, Name: c.Name}
		id = t.path("")
	} else if id, err = exemptionAbove(ctx, cl, streams, c.Resource, c.Name); err != nil {
		return err
	}
	var out posture.ExemptionExplanation
	if _, err := cl.Do(ctx, "POST", id+"/explain", exemptionAPIVersion, nil, map[string]string{"resourceId": c.Resource}, &out); err != nil {
		return err
	}
	rows := make([][]any, len(out.States))
	for i, s := range out.States {
		rows[i] = []any{s.ReferenceID, s.State, s.Covered, s.ExemptedBy}
	}
	return c.print(streams.Out, formatTable, view{
		Data:    out,
		Columns: []string{"policyDefinitionReferenceId", "complianceState", "covered", "exemptedBy"},
		Rows:    rows,
		Text:    func(w io.Writer) error { return writeExplanation(w, &out) },
	})
}

// writeExplanation prints the checks, the filter's tree and the states.
func writeExplanation(w io.Writer, ex *posture.ExemptionExplanation) error {
	verdict := "does not cover"
	if ex.Covers {
		verdict = "covers"
	}
	fmt.Fprintf(w, "%s\n  %s\n%s\n\n", ex.Exemption, verdict, ex.ResourceID)
	for _, s := range ex.Steps {
		mark := "✗"
		if s.Passed {
			mark = "✓"
		}
		fmt.Fprintf(w, "%s %-30s %s\n", mark, s.Check, s.Detail)
	}
	if len(ex.Filter) > 0 {
		var tree match.Explanation
		if json.Unmarshal(ex.Filter, &tree) == nil {
			fmt.Fprintln(w, "\nresource filter:")
			for line := range strings.SplitSeq(strings.TrimRight(tree.String(), "\n"), "\n") {
				fmt.Fprintln(w, "  "+line)
			}
		}
	}
	if len(ex.States) > 0 {
		fmt.Fprintln(w, "\npolicy states of the resource under the assignment:")
		for _, s := range ex.States {
			by := ""
			if s.ExemptedBy != "" {
				by = "  exempted by " + s.ExemptedBy
			}
			fmt.Fprintf(w, "  %-45s %-16s covered=%v%s\n", s.ReferenceID, s.State, s.Covered, by)
		}
	}
	return nil
}

// exemptionAbove finds the exemption called name at or above a resource
// (ARM's atScope() list at the resource), the only ones that can cover it.
func exemptionAbove(ctx context.Context, cl *client.Client, streams *IO, resource, name string) (string, error) {
	docs, err := listAll(ctx, cl, strings.TrimSuffix(resource, "/")+"/providers/Microsoft.Authorization/policyExemptions", exemptionAPIVersion, "atScope()", newProgress(streams.Err, "exemptions"))
	if err != nil {
		return "", err
	}
	var found []string
	for _, doc := range docs {
		var v struct{ ID, Name string }
		if json.Unmarshal(doc, &v) == nil && strings.EqualFold(v.Name, name) {
			found = append(found, v.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", usageError{fmt.Errorf("no exemption called %q at or above %s; it cannot cover the resource (give --scope to explain one elsewhere)", name, resource)}
	case 1:
		return found[0], nil
	}
	return "", usageError{fmt.Errorf("%d exemptions called %q at or above %s (%s): give --scope", len(found), name, resource, strings.Join(found, ", "))}
}

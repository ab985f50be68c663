package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

// codeMaxListed bounds each report list in text output; -o json lists all.
const codeMaxListed = 20

// codePlanOutput is `posture exemptions plan -o json`.
type codePlanOutput struct {
	Summary   map[string]int      `json:"summary"`
	Actions   []exemptplan.Action `json:"actions"`
	Unmanaged []exemptplan.Report `json:"unmanaged"`
	Orphaned  []exemptplan.Report `json:"orphaned"`
	Expired   []exemptplan.Report `json:"expired"`
	Problems  []codeProblemJSON   `json:"problems"`
	Warnings  []codeProblemJSON   `json:"warnings"`
	Score     *codeScoreImpact    `json:"score,omitempty"`
}

type codeProblemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func codeProblemsJSON(ps desired.Problems) []codeProblemJSON {
	out := make([]codeProblemJSON, len(ps))
	for i, p := range ps {
		out[i] = codeProblemJSON{p.Pos.File, p.Pos.Line, p.Pos.Column, p.Field, p.Code, p.Message}
	}
	return out
}

func codeSummary(p *exemptplan.Result) map[string]int {
	return map[string]int{
		"create": p.Count(exemptplan.Create), "update": p.Count(exemptplan.Update), "rebind": p.Count(exemptplan.Rebind),
		"delete": p.Count(exemptplan.Delete), "unchanged": p.Count(exemptplan.NoChange),
		"unmanaged": len(p.Unmanaged), "orphaned": len(p.Orphaned), "expired": len(p.Expired), "problems": len(p.Problems),
	}
}

func codePrintPlanJSON(w io.Writer, p *exemptplan.Result, score *codeScoreImpact) error {
	out := codePlanOutput{Summary: codeSummary(p), Actions: []exemptplan.Action{}, Unmanaged: p.Unmanaged, Orphaned: p.Orphaned, Expired: p.Expired,
		Problems: codeProblemsJSON(p.Problems), Warnings: codeProblemsJSON(p.Warnings), Score: score}
	for _, a := range p.Actions {
		if a.Kind != exemptplan.NoChange {
			out.Actions = append(out.Actions, a)
		}
	}
	return printJSON(w, out)
}

// codePrintProblems writes problems as file:line:col: field: message.
func codePrintProblems(w io.Writer, label string, ps desired.Problems) {
	for _, p := range ps {
		field := p.Field
		if field == "" {
			field = "(file)"
		}
		fmt.Fprintf(w, "%s%s: %s: %s (%s)\n", label, p.Pos, field, p.Message, p.Code)
	}
}

var codeKindMarks = []struct {
	kind       exemptplan.Kind
	title, tag string
}{
	{exemptplan.Create, "Create", "+"},
	{exemptplan.Update, "Update", "~"},
	{exemptplan.Rebind, "Re-bind to a recreated assignment", "⇄"},
	{exemptplan.Delete, "Delete", "-"},
}

// codePrintPlanText writes the plan grouped by action, the reports and the
// score impact.
func codePrintPlanText(w io.Writer, p *exemptplan.Result, score *codeScoreImpact, opts exemptplan.Options) {
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d to re-bind, %d to delete, %d unchanged (desired state %s, owner id %s).\n",
		p.Count(exemptplan.Create), p.Count(exemptplan.Update), p.Count(exemptplan.Rebind), p.Count(exemptplan.Delete), p.Count(exemptplan.NoChange),
		opts.DesiredState, opts.OwnerID)
	for _, km := range codeKindMarks {
		first := true
		for _, a := range p.Actions {
			if a.Kind != km.kind {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s:\n", km.title)
				first = false
			}
			adopt := ""
			if a.Adopt {
				adopt = " (adopt)"
			}
			fmt.Fprintf(w, "  %s %s%s\n", km.tag, a.ID, adopt)
			for _, r := range a.Reasons {
				fmt.Fprintf(w, "      %s\n", r)
			}
		}
	}
	reports := []struct {
		title string
		list  []exemptplan.Report
	}{
		{"Made elsewhere, at scopes the files cover; left alone (--desired-state full deletes them, adopt exports them)", p.Unmanaged},
		{"Orphaned: assignment or scope gone (posture exemptions archive --orphaned deletes them)", p.Orphaned},
		{"Expired (posture exemptions archive --expired deletes them)", p.Expired},
	}
	for _, r := range reports {
		if len(r.list) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d\n", r.title, len(r.list))
		for i, rep := range r.list {
			if i == codeMaxListed {
				fmt.Fprintf(w, "  … and %d more (-o json lists them all)\n", len(r.list)-codeMaxListed)
				break
			}
			extra := ""
			if rep.Replacement != "" {
				extra = "; " + rep.Replacement + " assigns the same now"
			}
			fmt.Fprintf(w, "  %s: %s%s\n", rep.ID, rep.Reason, extra)
		}
	}
	if score != nil {
		printScoreImpact(w, score)
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w)
		codePrintProblems(w, "warning: ", p.Warnings)
	}
}

func printScoreImpact(w io.Writer, s *codeScoreImpact) {
	if len(s.Scores) > 0 {
		fmt.Fprintln(w, "\nSecure score after the plan's writes:")
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "  SUBSCRIPTION\tNOW\tAFTER\tCHANGE")
		for _, sc := range s.Scores {
			fmt.Fprintf(tw, "  %s\t%.1f%%\t%.1f%%\t%+.1f\n", sc.SubscriptionID, 100*sc.Before.Percentage, 100*sc.After.Percentage,
				100*(sc.After.Percentage-sc.Before.Percentage))
		}
		tw.Flush()
	}
	for _, n := range s.Notes {
		fmt.Fprintln(w, "  "+strings.TrimSpace(n))
	}
}

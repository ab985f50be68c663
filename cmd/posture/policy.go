package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/posture/posture/policy"
)

// PolicyCmd groups the policy subcommands that work without a server.
type PolicyCmd struct {
	Eval     PolicyEvalCmd     `cmd:"" help:"Evaluate one definition against one resource document, offline, with the server's engine."`
	Coverage PolicyCoverageCmd `cmd:"" help:"Print how far posture evaluates each member of an initiative (the benchmark by default)."`
}

// PolicyEvalCmd is `posture policy eval`.
type PolicyEvalCmd struct {
	Definition string   `required:"" type:"existingfile" help:"Policy definition file (as in the Azure/azure-policy repository, with the properties wrapper)."`
	Initiative string   `type:"existingfile" help:"Initiative file; --definition is then its member named by --reference."`
	Reference  string   `help:"policyDefinitionReferenceId of the member within --initiative."`
	Resource   string   `required:"" type:"existingfile" help:"ARM document to evaluate."`
	Related    []string `type:"existingfile" help:"Related documents for existence checks (a document, an array or a {\"value\":[…]} list); repeatable."`
	Params     string   `help:"Parameters as a JSON object: plain values {\"effect\":\"Audit\"} or ARM's {\"effect\":{\"value\":\"Audit\"}}."`
	OutputFlags
}

// Run prints {"complianceState", "effect", "reasons"} as JSON. The exit
// status is 0 whatever the state; 1 when the input cannot be evaluated.
func (c *PolicyEvalCmd) Run(ctx context.Context, streams *IO) error {
	if (c.Initiative == "") != (c.Reference == "") {
		return usageError{fmt.Errorf("--initiative and --reference go together")}
	}
	in := policy.OfflineInput{ReferenceID: c.Reference, Params: []byte(c.Params)}
	var err error
	if in.Definition, err = os.ReadFile(c.Definition); err != nil {
		return err
	}
	if in.Resource, err = os.ReadFile(c.Resource); err != nil {
		return err
	}
	if c.Initiative != "" {
		if in.Initiative, err = os.ReadFile(c.Initiative); err != nil {
			return err
		}
	}
	for _, f := range c.Related {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		in.Related = append(in.Related, b)
	}
	res, err := policy.EvalOffline(ctx, in)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return c.printDoc(streams.Out, b)
}

// PolicyCoverageCmd is `posture policy coverage`.
type PolicyCoverageCmd struct {
	Initiative string `default:"1f3afdf9-d0c9-4c3d-847f-89da613e70a8" help:"Initiative id or built-in name (default: the Microsoft cloud security benchmark)."`
	Policies   string `type:"existingdir" help:"Also load this checkout of the Azure/azure-policy repository." env:"POSTURE_POLICIES"`
	OutputFlags
}

type coverageRow struct {
	ReferenceID   string `json:"policyDefinitionReferenceId"`
	DefinitionID  string `json:"policyDefinitionId"`
	DisplayName   string `json:"displayName"`
	Mode          string `json:"mode"`
	DefaultEffect string `json:"defaultEffect"`
	Class         string `json:"class"`
	Evaluated     bool   `json:"evaluatedByPosture"`
	Note          string `json:"note"`
}

// classNotes says, for each class, where results come from.
var classNotes = map[policy.Class]string{
	policy.ClassSelfContained:      "evaluated from the resource's document",
	policy.ClassRelatedARM:         "evaluated from the resource and related documents in the estate",
	policy.ClassDefenderSetting:    "evaluated from Microsoft.Security settings in the estate",
	policy.ClassScannerAssessment:  "from imported Microsoft.Security/assessments; Unknown without them",
	policy.ClassGuestConfiguration: "from imported guest configuration assignments; Unknown without them",
	policy.ClassDataPlane:          "resource provider mode: not evaluated (Unknown)",
	policy.ClassManual:             "manual: the definition's default state",
}

// Run prints one row per member of the initiative.
func (c *PolicyCoverageCmd) Run(streams *IO) error {
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		return err
	}
	if c.Policies != "" {
		if err := reg.LoadDir(c.Policies); err != nil {
			return err
		}
	}
	set, ok := reg.SetDefinition(c.Initiative)
	if !ok {
		return usageError{fmt.Errorf("no initiative %q (give a built-in name or a full id)", c.Initiative)}
	}
	ca, err := policy.Compile(&policy.Assignment{PolicyDefinitionID: set.ID}, reg)
	if err != nil {
		return err
	}
	var rows []coverageRow
	counts := map[policy.Class]int{}
	for _, ref := range ca.References {
		d := ref.Definition
		mode := d.Mode
		if mode == "" {
			mode = "Indexed"
		}
		rows = append(rows, coverageRow{
			ReferenceID: ref.ReferenceID, DefinitionID: d.ID, DisplayName: d.DisplayName, Mode: mode,
			DefaultEffect: string(ref.Effect), Class: string(ref.Class), Evaluated: ref.Class.Evaluable(), Note: classNotes[ref.Class],
		})
		counts[ref.Class]++
	}
	slices.SortFunc(rows, func(a, b coverageRow) int { return strings.Compare(a.ReferenceID, b.ReferenceID) })
	v := view{Data: rows, Columns: []string{"policyDefinitionReferenceId", "class", "defaultEffect", "evaluatedByPosture", "displayName", "policyDefinitionId"}}
	for _, r := range rows {
		v.Rows = append(v.Rows, []any{r.ReferenceID, r.Class, r.DefaultEffect, r.Evaluated, r.DisplayName, r.DefinitionID})
	}
	v.Text = func(out io.Writer) error {
		w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
		fmt.Fprintln(w, "REFERENCE\tCLASS\tEFFECT\tEVALUATED\tDISPLAY NAME")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", r.ReferenceID, r.Class, r.DefaultEffect, r.Evaluated, clipText(r.DisplayName, 80))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n%s: %d members\n", set.DisplayName, len(rows))
		classes := make([]policy.Class, 0, len(counts))
		for cl := range counts {
			classes = append(classes, cl)
		}
		slices.Sort(classes)
		for _, cl := range classes {
			fmt.Fprintf(out, "  %-20s %4d  %s\n", cl, counts[cl], classNotes[cl])
		}
		return nil
	}
	return c.print(streams.Out, formatTable, v)
}

func clipText(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

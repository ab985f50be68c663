package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture/client"
	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
	"golang.org/x/term"
)

// ExemptionsCmd is `posture exemptions`: exemptions as code. A desired-state
// file (YAML, JSON, or EPAC's exemption JSON/CSV) is codePlan against the
// server and applied.
type ExemptionsCmd struct {
	Plan    ExemptionsPlanCmd    `cmd:"" help:"Show what applying desired-state files would create, update and delete, with reasons and the score impact."`
	Apply   ExemptionsApplyCmd   `cmd:"" help:"Apply desired-state files: each exemption written atomically; nothing when the plan has errors."`
	Adopt   ExemptionsAdoptCmd   `cmd:"" help:"Export exemptions made elsewhere (portal, API) into a desired-state file, with their history."`
	Archive ExemptionsArchiveCmd `cmd:"" help:"Delete expired and orphaned exemptions in batches (their history stays in the ledger)."`
}

// exitPlanChanges is the exit code of `posture exemptions plan
// --detailed-exitcode` when the plan has changes (terraform's 2 is the
// usage error here; 3–5 are taken by API errors).
const exitPlanChanges = 6

// codePlanFlags are what plan and apply share.
type codePlanFlags struct {
	ClientFlags
	Data         string   `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Files        []string `arg:"" name:"file" help:"Desired-state files: posture YAML or JSON, EPAC exemption JSON or CSV."`
	DesiredState string   `name:"desired-state" enum:"owned,full" default:"owned" help:"owned: delete only exemptions of this owner id that the files no longer list; full: also delete exemptions made elsewhere at the scopes the files cover."`
	OwnerID      string   `name:"owner-id" default:"default" help:"Owner id written in metadata.ownerId: the files manage only exemptions with this id."`
	Scope        []string `help:"Scopes the files manage (repeatable). Default: the entries' scopes for exemptions made elsewhere, and every scope for this owner id's."`
	NoScore      bool     `name:"no-score" help:"Do not preview the secure score (nor have the server check the exemptions)."`
}

// codePlan is a plan and what it was made with.
type codePlan struct {
	cl     *client.Client
	opts   exemptplan.Options
	result *exemptplan.Result
	score  *codeScoreImpact
}

// plan parses the files, reads the estate and plans. Problems of the files
// and of the plan are in the result; err is for what stops planning (a
// server that does not answer).
func (f *codePlanFlags) plan(ctx context.Context) (*codePlan, error) {
	now := time.Now().UTC()
	entries, parseProblems := desired.ParseFiles(f.Files, now)
	cl, err := f.client(f.Data)
	if err != nil {
		return nil, err
	}
	est, err := codeFetchEstate(ctx, cl, entries)
	if err != nil {
		if len(parseProblems) > 0 {
			// The files' own problems are worth showing without a server.
			return &codePlan{cl: cl, result: &exemptplan.Result{Problems: parseProblems}}, nil
		}
		return nil, err
	}
	p := &codePlan{cl: cl, opts: exemptplan.Options{DesiredState: exemptplan.DesiredState(f.DesiredState), OwnerID: f.OwnerID, Scopes: f.Scope, Now: now}}
	p.result = exemptplan.Plan(entries, est, p.opts)
	p.result.Problems = append(parseProblems, p.result.Problems...)
	if !f.NoScore && len(p.result.Problems) == 0 {
		var probs desired.Problems
		p.score, probs = codePreviewScores(ctx, cl, p.result)
		p.result.Problems = append(p.result.Problems, probs...)
	}
	codeSortProblems(p.result.Problems)
	return p, nil
}

func codeSortProblems(ps desired.Problems) {
	slices.SortStableFunc(ps, func(a, b desired.Problem) int {
		if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Column - b.Pos.Column
	})
}

// codeProblemsError reports problems on stderr and is the error that makes the
// command fail.
func codeProblemsError(streams *IO, ps desired.Problems, what string) error {
	codePrintProblems(streams.Err, "", ps)
	return fmt.Errorf("%d problems in the desired state: %s", len(ps), what)
}

// ExemptionsPlanCmd is `posture exemptions plan`.
type ExemptionsPlanCmd struct {
	codePlanFlags
	Output           string `short:"o" enum:"text,table,json" default:"text" help:"text (table is the same) or json."`
	DetailedExitcode bool   `name:"detailed-exitcode" help:"Exit 6 when the plan has changes, 0 when it has none (1 on errors)."`
}

func (c *ExemptionsPlanCmd) Run(ctx context.Context, streams *IO) error {
	p, err := c.plan(ctx)
	if err != nil {
		return err
	}
	r := p.result
	if c.Output == "json" {
		if err := codePrintPlanJSON(streams.Out, r, p.score); err != nil {
			return err
		}
	}
	if len(r.Problems) > 0 {
		if c.Output == "json" {
			return fmt.Errorf("%d problems in the desired state", len(r.Problems))
		}
		return codeProblemsError(streams, r.Problems, "fix them, then plan again")
	}
	if c.Output != "json" {
		codePrintPlanText(streams.Out, r, p.score, p.opts)
	}
	if c.DetailedExitcode && r.Changes() > 0 {
		return exitStatus(exitPlanChanges)
	}
	return nil
}

// ExemptionsApplyCmd is `posture exemptions apply`.
type ExemptionsApplyCmd struct {
	codePlanFlags
	Yes         bool `help:"Apply without asking."`
	Concurrency int  `default:"4" help:"Exemptions written at the same time."`
}

func (c *ExemptionsApplyCmd) Run(ctx context.Context, streams *IO) error {
	if c.Concurrency < 1 {
		return usageError{fmt.Errorf("--concurrency must be at least 1")}
	}
	p, err := c.plan(ctx)
	if err != nil {
		return err
	}
	r := p.result
	if len(r.Problems) > 0 {
		return codeProblemsError(streams, r.Problems, "nothing was applied")
	}
	codePrintPlanText(streams.Out, r, p.score, p.opts)
	if r.Changes() == 0 {
		fmt.Fprintln(streams.Out, "\nNo changes: nothing to apply.")
		return nil
	}
	if !c.Yes {
		if err := codeConfirm(streams, fmt.Sprintf("\nApply these %d changes?", r.Changes())); err != nil {
			return err
		}
	}
	sum := codeApplyPlan(ctx, p.cl, r, c.Concurrency, streams)
	sum.print(streams.Out)
	if n := len(sum.Failed); n > 0 {
		return fmt.Errorf("%d of %d changes failed; the others were applied", n, r.Changes())
	}
	return nil
}

// confirm asks on a terminal; elsewhere it refuses, so that a pipeline
// never applies by accident.
func codeConfirm(streams *IO, question string) error {
	f, ok := streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return usageError{fmt.Errorf("standard input is not a terminal: give --yes to go ahead")}
	}
	fmt.Fprintf(streams.Out, "%s Only 'yes' goes ahead: ", question)
	line, _ := bufio.NewReader(f).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("not confirmed: nothing was done")
	}
	return nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture/client"
	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

// ExemptionsAdoptCmd is `posture exemptions adopt`.
type ExemptionsAdoptCmd struct {
	ClientFlags
	Data  string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope string `required:"" help:"Adopt the exemptions made elsewhere at or under this scope."`
	Out   string `help:"File to write (default: standard output)." type:"path"`
}

// Run writes the exemptions made elsewhere at the scope as a desired-state
// file, each with its history. Planning the file then adopts them: an
// update that only adds the ownership metadata.
func (c *ExemptionsAdoptCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	est, err := codeFetchEstate(ctx, cl, nil)
	if err != nil {
		return err
	}
	list, skipped := exemptplan.Adoptable(est, c.Scope, time.Now())
	entries := make([]desired.Entry, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				entries[i], errs[i] = codeAdoptEntry(ctx, cl, list[i])
			}
		})
	}
	for i := range list {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := desired.Write(&buf, entries); err != nil {
		return err
	}
	where := "standard output"
	if c.Out == "" {
		if _, err := streams.Out.Write(buf.Bytes()); err != nil {
			return err
		}
	} else {
		if err := os.WriteFile(c.Out, buf.Bytes(), 0o644); err != nil {
			return err
		}
		where = c.Out
	}
	fmt.Fprintf(streams.Err, "adopted %d exemptions made elsewhere into %s; plan and apply the file to take them over.\n", len(entries), where)
	for _, s := range skipped {
		fmt.Fprintf(streams.Err, "  not adopted: %s: %s (posture exemptions archive deletes it)\n", s.ID, s.Reason)
	}
	return nil
}

// codeAdoptEntry turns an exemption into a desired entry with its history.
// metadata.owner and metadata.ticketRef become the entry's owner and
// ticket, which plan writes back to the same keys.
func codeAdoptEntry(ctx context.Context, cl *client.Client, x *exemptplan.Exemption) (desired.Entry, error) {
	e := desired.Entry{
		Name: x.Name(), Scopes: []string{x.Scope()}, Assignment: x.AssignmentID, ReferenceIDs: x.ReferenceIDs,
		Category: x.Category, ExpiresOn: x.ExpiresOn, DisplayName: x.DisplayName, Description: x.Description,
		ResourceSelectors: x.ResourceSelectors, ResourceFilter: x.ResourceFilter,
	}
	if x.AssignmentScopeValidation != "" && !strings.EqualFold(x.AssignmentScopeValidation, "Default") {
		e.AssignmentScopeValidation = x.AssignmentScopeValidation
	}
	meta := map[string]any{}
	for k, v := range x.Metadata {
		s, isText := v.(string)
		switch {
		case k == exemptplan.KeyOwner && isText:
			e.Owner = s
		case k == exemptplan.KeyTicket && isText:
			e.Ticket = s
		default:
			meta[k] = v
		}
	}
	if len(meta) > 0 {
		e.Metadata = meta
	}
	var hist struct {
		Value json.RawMessage `json:"value"`
	}
	if _, err := cl.Do(ctx, http.MethodGet, x.ID+"/history", codeExemptionVersion, nil, nil, &hist); err != nil {
		return e, fmt.Errorf("history of %s: %w", x.ID, err)
	}
	e.History = hist.Value
	return e, nil
}

// ExemptionsArchiveCmd is `posture exemptions archive`.
type ExemptionsArchiveCmd struct {
	ClientFlags
	Data        string `default:"./posture-data" help:"Data directory holding the bootstrap token, when no --token is given." env:"POSTURE_DATA"`
	Scope       string `required:"" help:"Archive exemptions at or under this scope."`
	Expired     bool   `help:"Archive expired exemptions."`
	Orphaned    bool   `help:"Archive exemptions whose assignment or scope is gone."`
	Batch       int    `default:"100" help:"Exemptions deleted per batch; each batch is reported."`
	Concurrency int    `default:"4" help:"Deletes in flight at once."`
	DryRun      bool   `name:"dry-run" help:"List what would be archived; delete nothing."`
	Yes         bool   `help:"Archive without asking."`
}

// Run deletes expired and/or orphaned exemptions in batches. Each delete
// is a request of its own, so other writers are never held up, and a
// failing one is reported, not fatal. Their history stays in the ledger.
func (c *ExemptionsArchiveCmd) Run(ctx context.Context, streams *IO) error {
	if !c.Expired && !c.Orphaned {
		return usageError{fmt.Errorf("say what to archive: --expired, --orphaned or both")}
	}
	if c.Batch < 1 || c.Concurrency < 1 {
		return usageError{fmt.Errorf("--batch and --concurrency must be at least 1")}
	}
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	est, err := codeFetchEstate(ctx, cl, nil)
	if err != nil {
		return err
	}
	orphaned, expired := exemptplan.Hygiene(est, c.Scope, time.Now())
	var targets []exemptplan.Report
	if c.Orphaned {
		targets = append(targets, orphaned...)
	}
	if c.Expired {
		targets = append(targets, expired...)
	}
	slices.SortFunc(targets, func(a, b exemptplan.Report) int { return strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)) })
	targets = slices.CompactFunc(targets, func(a, b exemptplan.Report) bool { return strings.EqualFold(a.ID, b.ID) })
	fmt.Fprintf(streams.Out, "%d exemptions to archive under %s.\n", len(targets), c.Scope)
	if c.DryRun {
		for _, t := range targets {
			fmt.Fprintf(streams.Out, "  %s: %s\n", t.ID, t.Reason)
		}
		return nil
	}
	if len(targets) == 0 {
		return nil
	}
	if !c.Yes {
		if err := codeConfirm(streams, fmt.Sprintf("Delete these %d exemptions?", len(targets))); err != nil {
			return err
		}
	}
	listed := map[string]*exemptplan.Exemption{}
	for i := range est.Exemptions {
		listed[strings.ToLower(est.Exemptions[i].ID)] = &est.Exemptions[i]
	}
	actions := make([]exemptplan.Action, len(targets))
	for i, t := range targets {
		actions[i] = exemptplan.Action{Kind: exemptplan.Delete, ID: t.ID, Current: listed[strings.ToLower(t.ID)]}
	}
	prog := newProgress(streams.Err, "archived")
	var failed []codeApplyFailure
	deleted := 0
	for n, batch := 0, []exemptplan.Action(nil); n < len(actions); n += len(batch) {
		batch = actions[n:min(n+c.Batch, len(actions))]
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		work := make(chan int)
		for range c.Concurrency {
			wg.Go(func() {
				for i := range work {
					errs[i] = codeApplyOne(ctx, cl, batch[i])
					prog.add(1, batch[i].ID)
				}
			})
		}
		for i := range batch {
			work <- i
		}
		close(work)
		wg.Wait()
		bad := 0
		for i, err := range errs {
			if err != nil {
				bad++
				failed = append(failed, codeApplyFailure{exemptplan.Delete, batch[i].ID, message(err)})
			}
		}
		deleted += len(batch) - bad
		if !prog.on { // a terminal has the progress line; logs get a line a batch
			fmt.Fprintf(streams.Err, "batch %d: %d deleted, %d failed (%d of %d done)\n", n/c.Batch+1, len(batch)-bad, bad, n+len(batch), len(actions))
		}
		if ctx.Err() != nil {
			break
		}
	}
	prog.done()
	fmt.Fprintf(streams.Out, "Archived %d exemptions; %d failed.\n", deleted, len(failed))
	for _, f := range failed {
		fmt.Fprintf(streams.Out, "  failed: %s: %s\n", f.ID, f.Reason)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d deletes failed; the others were done", len(failed), len(actions))
	}
	return nil
}

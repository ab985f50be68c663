package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posture/posture/consistency"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// CheckCmd is `posture check`: the store against a from-scratch
// recomputation (package consistency). It opens the store itself, so it
// works while no server runs; beside a running server it checks one
// snapshot (SQLite's WAL read transaction; on PostgreSQL its transactions
// are REPEATABLE READ), so writes in flight cannot make it disagree.
type CheckCmd struct {
	StoreFlags
	Policies           string `help:"The --policies directory the server loads (its assignments must compile the same)." env:"POSTURE_POLICIES" type:"existingdir"`
	MitigatedAsHealthy bool   `help:"Score as a server started with --mitigated-as-healthy." env:"POSTURE_MITIGATED_AS_HEALTHY"`
	PublicKey          string `help:"Base64 public key of the ledger's checkpoint signer (default: derived from the key in --data; none: the chain alone)." env:"POSTURE_LEDGER_PUBLIC_KEY"`
	Limit              int    `default:"20" help:"Disagreements listed per part (all are counted)."`
	OutputFlags
}

// errInconsistent ends a check that found disagreements (exit code 1).
var errInconsistent = errors.New("the store disagrees with a from-scratch recomputation")

// Run runs the check.
func (c *CheckCmd) Run(ctx context.Context, streams *IO) error {
	if _, err := c.format(formatTable); err != nil {
		return err
	}
	if c.DatabaseURL == "" {
		// Opening creates a store; an empty one checks nothing.
		if _, err := os.Stat(filepath.Join(c.Data, sqlite.FileName)); err != nil {
			return usageError{fmt.Errorf("no store in %s (--data): %w", c.Data, err)}
		}
	}
	flags := c.StoreFlags
	if flags.DatabaseURL != "" {
		u, err := snapshotURL(flags.DatabaseURL)
		if err != nil {
			return err
		}
		flags.DatabaseURL = u
	}
	keys, keySource, err := (&AuditVerifyCmd{StoreFlags: c.StoreFlags, PublicKey: c.PublicKey}).keys()
	if err != nil {
		return err
	}
	registry, err := policy.NewBuiltinRegistry()
	if err != nil {
		return fmt.Errorf("loading the built-in policies: %w", err)
	}
	if c.Policies != "" {
		if err := registry.LoadDir(c.Policies); err != nil {
			return fmt.Errorf("loading --policies %s: %w", c.Policies, err)
		}
	}
	store, err := flags.open(ctx, time.Now)
	if err != nil {
		return fmt.Errorf("opening the store (%s): %w", c.describe(), err)
	}
	defer store.Close()
	start := time.Now()
	rep, err := consistency.Check(ctx, store, consistency.Options{Registry: registry, LedgerKeys: keys,
		MitigatedAsHealthy: c.MitigatedAsHealthy, Limit: c.Limit, Now: time.Now})
	if err != nil {
		return err
	}
	took := time.Since(start)
	v := view{Data: rep, Columns: []string{"part", "problem", "id", "referenceId", "stored", "fresh"}}
	for _, d := range rep.States.Diffs {
		v.Rows = append(v.Rows, []any{"states", d.Problem, d.ResourceKey + " | " + d.AssignmentKey, d.ReferenceID, d.Stored, d.Fresh})
	}
	for _, d := range rep.Defender.Diffs {
		v.Rows = append(v.Rows, []any{"defender", d.Problem, d.ID, "", d.Stored, d.Fresh})
	}
	if rep.Ledger.Broken != "" {
		v.Rows = append(v.Rows, []any{"ledger", "broken", "", "", rep.Ledger.Broken, ""})
	}
	v.Text = func(w io.Writer) error { return printCheck(w, rep, c.describe(), keySource, took) }
	if err := c.print(streams.Out, formatTable, v); err != nil {
		return err
	}
	if !rep.Consistent {
		return errInconsistent
	}
	return nil
}

// printCheck writes the summary and the disagreements listed.
func printCheck(w io.Writer, rep *consistency.Report, store, keySource string, took time.Duration) error {
	s, d, l := rep.States, rep.Defender, rep.Ledger
	fmt.Fprintf(w, "store: %s, checked as of %s in %s\n", store, rep.At.Format(time.RFC3339), took.Round(time.Millisecond))
	fmt.Fprintf(w, "policy states: %d assignments, %d exemptions, %d resource evaluations; stored %d rows, %d states; %d disagree\n",
		s.Assignments, s.Exemptions, s.Resources, s.Rows, s.States, s.Disagreements)
	for _, k := range s.Uncompiled {
		fmt.Fprintf(w, "  note: the assignment %s does not compile; it is not evaluated\n", k)
	}
	if s.Stale {
		fmt.Fprintln(w, "  note: the store is marked stale (an offline import): the server re-evaluates everything when it starts")
	}
	if s.Pending > 0 {
		fmt.Fprintf(w, "  note: %d evaluation jobs of large scopes are queued or running: their states disagree until they are done\n", s.Pending)
	}
	for _, x := range s.Diffs {
		fmt.Fprintf(w, "  %s\n", x)
	}
	if more := s.Disagreements - len(s.Diffs); more > 0 {
		fmt.Fprintf(w, "  … and %d more\n", more)
	}
	fmt.Fprintf(w, "defender: %d subscriptions, %d assessments; %d disagree\n", d.Subscriptions, d.Assessments, d.Disagreements)
	for _, sc := range d.Scores {
		fmt.Fprintf(w, "  secure score %s: %s", sc.Subscription, sc.Stored)
		if sc.Fresh != sc.Stored {
			fmt.Fprintf(w, ", recomputed %s", sc.Fresh)
		}
		fmt.Fprintln(w)
	}
	for _, x := range d.Diffs {
		fmt.Fprintf(w, "  %s\n", x)
	}
	if more := d.Disagreements - len(d.Diffs); more > 0 {
		fmt.Fprintf(w, "  … and %d more\n", more)
	}
	fmt.Fprintf(w, "ledger: %d entries (seq %d..%d), %d checkpoints, head %s\n", l.Entries, l.First, l.Last, l.Checkpoints, l.Head)
	if l.ChainOnly {
		fmt.Fprintln(w, "  warning: no public key: the chain was checked, the checkpoint signatures were not")
	} else {
		fmt.Fprintf(w, "  checkpoints verified with %s\n", keySource)
	}
	if l.Broken != "" {
		fmt.Fprintf(w, "  BROKEN: %s\n", l.Broken)
	}
	if rep.Consistent {
		fmt.Fprintln(w, "ok: the store agrees with a from-scratch recomputation")
	} else {
		fmt.Fprintln(w, "INCONSISTENT")
	}
	return nil
}

// snapshotURL makes every transaction of the check's connections
// REPEATABLE READ: PostgreSQL's default (READ COMMITTED) takes a new
// snapshot per statement, and a check beside a writing server would see
// half of a write.
func snapshotURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", usageError{errors.New("--database-url must be a postgres:// URL")}
	}
	if u.Query().Has("default_transaction_isolation") {
		return raw, nil // the user's choice
	}
	// Appended as is: re-encoding the query would turn spaces in the
	// other parameters into '+', which pgx passes on literally.
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "default_transaction_isolation=repeatable%20read"
	return u.String(), nil
}

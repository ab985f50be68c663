// Command posture is posture's one binary: `posture serve` runs the server,
// the other subcommands are its command-line tools. This package only wires
// the other packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/posture/posture"
)

// CLI is the command line: one field per subcommand, each in its own file.
type CLI struct {
	Serve      ServeCmd      `cmd:"" help:"Run the posture server."`
	Import     ImportCmd     `cmd:"" help:"Import ARM documents (GET bodies, arrays, {\"value\":[…]} lists, Resource Graph results) into the estate."`
	Query      QueryCmd      `cmd:"" help:"Run a Resource Graph (KQL) query against a server."`
	Demo       DemoCmd       `cmd:"" help:"Demo and benchmark estates."`
	Policy     PolicyCmd     `cmd:"" help:"Policy tools that need no server: offline evaluation and coverage."`
	Exemption  ExemptionCmd  `cmd:"" help:"Create, preview, show, list, update, delete exemptions and read their history."`
	Exemptions ExemptionsCmd `cmd:"" help:"Exemptions as code: plan, apply, adopt, archive."`
	Request    RequestCmd    `cmd:"" help:"Exemption requests: create, show, list, approve, reject, withdraw."`
	Principal  PrincipalCmd  `cmd:"" help:"Users, groups and service principals."`
	Token      TokenCmd      `cmd:"" help:"API tokens: create (secret shown once), list, revoke."`
	Role       RoleCmd       `cmd:"" help:"Role assignments: assign, list, unassign."`
	Audit      AuditCmd      `cmd:"" help:"The audit ledger: verify its chain and signatures, export a range."`
	Check      CheckCmd      `cmd:"" help:"Check a store against a from-scratch recomputation: policy states, assessments and secure scores, the ledger (exit 1 when they disagree)."`
	Load       LoadCmd       `cmd:"" help:"Load-test a posture on this machine: mixed API, Resource Graph and portal traffic, closed loop over client counts or open loop at a rate; throughput and latency percentiles per operation (docs/load.md)."`

	Score          ScoreCmd          `cmd:"" help:"Secure scores per subscription (or management group), and per control with --controls."`
	Recommendation RecommendationCmd `cmd:"" help:"Recommendations with their healthy, unhealthy and not applicable resources."`
	Login          LoginCmd          `cmd:"" help:"Check a token against a server and save both as a profile (~/.config/posture/config.yaml)."`
	Logout         LogoutCmd         `cmd:"" help:"Remove a saved profile."`
	Completion     CompletionCmd     `cmd:"" help:"Print a shell completion script: bash, zsh or fish."`
	Version        VersionCmd        `cmd:"" help:"Print the version."`
}

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(streams *IO) error {
	fmt.Fprintln(streams.Out, "posture", Version)
	return nil
}

// IO carries the streams of a run, so tests can capture them.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Ready, when set, is called by serve once it listens (tests use it).
	Ready func(url string)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], &IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}

// Exit codes of posture's commands.
const (
	exitOK           = 0 // success
	exitFailure      = 1 // the command failed: a server or API error, a broken ledger, rejected documents
	exitUsage        = 2 // a usage error: flags, arguments, configuration
	exitNotFound     = 3 // the server answered 404: no such exemption, request, recommendation, scope …
	exitUnauthorized = 4 // the server answered 401 (token refused) or 403 (not allowed)
	exitConflict     = 5 // the server answered 409 or 412: the thing changed meanwhile or already exists
)

// exitCodesHelp documents the exit codes in posture --help.
const exitCodesHelp = `Exit codes:
  0  success
  1  failure: a server or API error (e.g. a rule refused the change), a broken ledger
  2  usage error: flags, arguments, configuration (no token, no such profile)
  3  not found (404): no such exemption, request, recommendation or scope
  4  not signed in or not allowed (401, 403): a refused token, a missing role
  5  conflict (409, 412): changed meanwhile (a stale ETag) or already exists
  6  exemptions plan --detailed-exitcode: the plan has changes
`

// Main runs the command line args and returns the exit code (see
// exitCodesHelp).
func Main(ctx context.Context, args []string, streams *IO) int {
	var cli CLI
	exit := -1
	parser, err := kong.New(&cli,
		kong.Name("posture"),
		kong.Description("Self-hosted cloud security posture with first-class exemptions."),
		kong.Writers(streams.Out, streams.Err),
		kong.Exit(func(code int) { exit = code }),
		kong.DefaultEnvars("POSTURE"),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(streams),
		kong.UsageOnError(),
		kong.Help(func(options kong.HelpOptions, kctx *kong.Context) error {
			if err := kong.DefaultHelpPrinter(options, kctx); err != nil {
				return err
			}
			if kctx.Selected() == nil {
				fmt.Fprint(kctx.Stdout, "\n"+exitCodesHelp)
			}
			return nil
		}),
	)
	if err != nil {
		fmt.Fprintln(streams.Err, "posture:", err)
		return exitFailure
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		fmt.Fprintln(streams.Err, "posture:", redact(err.Error()))
		return exitUsage
	}
	if err := kctx.Run(); err != nil {
		var status exitStatus
		if errors.As(err, &status) {
			return int(status) // an outcome, not a failure: nothing to print
		}
		fmt.Fprintln(streams.Err, "posture:", redact(message(err)))
		return exitCode(err)
	}
	return exitOK
}

// exitCode maps an error to posture's exit code.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	switch posture.ErrorKind(err) {
	case posture.ENOTFOUND:
		return exitNotFound
	case posture.EUNAUTHORIZED, posture.EFORBIDDEN:
		return exitUnauthorized
	case posture.ECONFLICT, posture.EPRECONDITION:
		return exitConflict
	}
	return exitFailure
}

// exitStatus ends a command that succeeded with a code that says how (a
// plan with changes under --detailed-exitcode).
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// usageError marks errors in what the user asked for (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// message renders an error for a person: ARM errors as "Code: message",
// with their details one a line; the cause of an error made in this
// process is not shown when it has a message of its own.
func message(err error) string {
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind == posture.EINTERNAL {
		return err.Error()
	}
	msg := pe.Code + ": " + pe.Message
	if pe.Err == nil {
		msg = err.Error() // with what the command was doing
	}
	var details func(es []*posture.Error, indent string)
	details = func(es []*posture.Error, indent string) {
		for _, d := range es {
			msg += "\n" + indent + "- " + d.Code + ": " + d.Message
			if d.Target != "" {
				msg += " (" + d.Target + ")"
			}
			details(d.Details, indent+"  ")
		}
	}
	details(pe.Details, "  ")
	return msg
}

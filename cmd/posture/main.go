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
	Exemption  ExemptionCmd  `cmd:"" help:"Create, preview, show, list, delete exemptions and read their history."`
	Exemptions ExemptionsCmd `cmd:"" help:"Exemptions as code: plan, apply, adopt, archive."`
	Request    RequestCmd    `cmd:"" help:"Exemption requests: create, show, list, approve, reject, withdraw."`
	Principal  PrincipalCmd  `cmd:"" help:"Users, groups and service principals."`
	Token      TokenCmd      `cmd:"" help:"API tokens: create (secret shown once), list, revoke."`
	Role       RoleCmd       `cmd:"" help:"Role assignments: assign, list, unassign."`
	Audit      AuditCmd      `cmd:"" help:"The audit ledger: verify its chain and signatures, export a range."`
	Load       LoadCmd       `cmd:"" help:"Send requests at a fixed rate to a posture on this machine and print latency percentiles."`
	Version    VersionCmd    `cmd:"" help:"Print the version."`
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
	Out, Err io.Writer
	// Ready, when set, is called by serve once it listens (tests use it).
	Ready func(url string)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], &IO{Out: os.Stdout, Err: os.Stderr}))
}

// Main runs the command line args and returns the exit code: 0 success,
// 1 failure, 2 usage error.
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
	)
	if err != nil {
		fmt.Fprintln(streams.Err, "posture:", err)
		return 1
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		fmt.Fprintln(streams.Err, "posture:", err)
		return 2
	}
	if err := kctx.Run(); err != nil {
		fmt.Fprintln(streams.Err, "posture:", message(err))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks errors in what the user asked for (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// message renders an error for a person: ARM errors as "Code: message".
func message(err error) string {
	var pe *posture.Error
	if errors.As(err, &pe) && pe.Kind != posture.EINTERNAL {
		return pe.Code + ": " + pe.Message
	}
	return err.Error()
}

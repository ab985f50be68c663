package main

import (
	"errors"
)

// ExemptionsCmd is `posture exemptions`: exemptions as code. A desired-state
// file (YAML, JSON, or EPAC's exemption JSON/CSV) is planned against the
// server and applied.
type ExemptionsCmd struct {
	Plan    ExemptionsPlanCmd    `cmd:"" help:"Show what applying desired-state files would create, update and delete, with reasons and the score impact."`
	Apply   ExemptionsApplyCmd   `cmd:"" help:"Apply desired-state files: each exemption written atomically; nothing when the plan has errors."`
	Adopt   ExemptionsAdoptCmd   `cmd:"" help:"Export exemptions made elsewhere (portal, API) into a desired-state file, with their history."`
	Archive ExemptionsArchiveCmd `cmd:"" help:"Delete expired and orphaned exemptions in batches (their history stays in the ledger)."`
}

var errNotYet = errors.New("not implemented yet")

// ExemptionsPlanCmd is `posture exemptions plan`.
type ExemptionsPlanCmd struct{}

func (ExemptionsPlanCmd) Run() error { return errNotYet }

// ExemptionsApplyCmd is `posture exemptions apply`.
type ExemptionsApplyCmd struct{}

func (ExemptionsApplyCmd) Run() error { return errNotYet }

// ExemptionsAdoptCmd is `posture exemptions adopt`.
type ExemptionsAdoptCmd struct{}

func (ExemptionsAdoptCmd) Run() error { return errNotYet }

// ExemptionsArchiveCmd is `posture exemptions archive`.
type ExemptionsArchiveCmd struct{}

func (ExemptionsArchiveCmd) Run() error { return errNotYet }

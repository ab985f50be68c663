// Package audit reads the ledger the store keeps (package ledger makes it
// tamper-evident): it verifies the chain over a store, renders entries as
// Azure activity-log events, and streams ranges out for offline checks.
package audit

import (
	"context"
	"crypto/ed25519"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
)

// pageSize is how many entries one read transaction returns: big enough to
// keep verification at full speed, small enough to bound memory.
const pageSize = 10_000

// Range selects entries by sequence number: From and To inclusive, 0 for
// no bound.
type Range struct{ From, To int64 }

func (r Range) after() int64 { return max(r.From-1, 0) }

// Each calls fn for the checkpoints and then the entries of the range, in
// sequence order, reading the store a page at a time.
func Each(ctx context.Context, store posture.Store, r Range, cp func(*posture.LedgerCheckpoint) error, entry func(*posture.Event) error) error {
	if cp != nil {
		var cps []*posture.LedgerCheckpoint
		if err := store.Read(ctx, func(tx posture.Tx) error {
			var err error
			cps, err = tx.Checkpoints(r.after(), r.To)
			return err
		}); err != nil {
			return err
		}
		for _, c := range cps {
			if err := cp(c); err != nil {
				return err
			}
		}
	}
	after := r.after()
	for {
		var page []*posture.Event
		if err := store.Read(ctx, func(tx posture.Tx) error {
			var err error
			page, err = tx.Events(posture.EventFilter{After: after, Through: r.To, Limit: pageSize})
			return err
		}); err != nil {
			return err
		}
		for _, e := range page {
			if err := entry(e); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].Seq
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Verify recomputes the chain of the range and checks its checkpoints with
// keys (none: the chain alone). Entries cut off after the last checkpoint
// cannot be told from a shorter ledger: compare Report.Last and Head with
// a value kept elsewhere (the CLI prints both).
func Verify(ctx context.Context, store posture.Store, r Range, keys ...ed25519.PublicKey) (ledger.Report, error) {
	v := ledger.NewVerifier(keys...)
	err := Each(ctx, store, r,
		func(c *posture.LedgerCheckpoint) error { return v.Checkpoint(*c) },
		func(e *posture.Event) error { v.Entry(e); return nil })
	if err != nil {
		return ledger.Report{}, err
	}
	return v.Result(), nil
}

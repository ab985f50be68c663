package audit

import (
	"context"
	"crypto/ed25519"
	"io"
	"iter"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
)

// Bounds returns the first and last sequence numbers kept (0, 0 when the
// ledger is empty).
func Bounds(ctx context.Context, store posture.Store) (first, last int64, err error) {
	err = store.Read(ctx, func(tx posture.Tx) error {
		es, err := tx.Events(posture.EventFilter{Limit: 1})
		if err != nil || len(es) == 0 {
			return err
		}
		first = es[0].Seq
		last, _, err = tx.LedgerHead()
		return err
	})
	return first, last, err
}

// Export writes the range (clamped to what is kept) in ledger's export
// format, with keys named in its header. It returns the range written; an
// empty ledger writes nothing and returns 0, 0.
func Export(ctx context.Context, w io.Writer, store posture.Store, r Range, keys ...ed25519.PublicKey) (Range, error) {
	first, last, err := Bounds(ctx, store)
	if err != nil || last == 0 {
		return Range{}, err
	}
	if r.From < first {
		r.From = first
	}
	if r.To == 0 || r.To > last {
		r.To = last
	}
	if r.From > r.To {
		return Range{}, posture.Errorf(posture.EINVALID, "InvalidRange", "The range %d..%d holds no entry; the ledger keeps %d..%d.", r.From, r.To, first, last)
	}
	var cps []*posture.LedgerCheckpoint
	if err := store.Read(ctx, func(tx posture.Tx) error {
		var err error
		cps, err = tx.Checkpoints(r.From-2, r.To) // with the one just before From
		return err
	}); err != nil {
		return Range{}, err
	}
	entries := func(yield func(*posture.Event, error) bool) {
		stop := errStop{}
		err := Each(ctx, store, r, nil, func(e *posture.Event) error {
			if !yield(e, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != error(stop) {
			yield(nil, err)
		}
	}
	h := ledger.ExportHeader{Format: ledger.ExportFormat, From: r.From, To: r.To, Keys: keys}
	return r, ledger.Export(w, h, iter.Seq2[*posture.Event, error](entries), cps)
}

type errStop struct{}

func (errStop) Error() string { return "stopped" }

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
)

// LedgerKeyFile is the file in the data directory that holds the key
// signing ledger checkpoints, when POSTURE_LEDGER_KEY does not give one.
const LedgerKeyFile = "ledger.key"

// ledgerSigner returns the signer of ledger checkpoints: the key in
// POSTURE_LEDGER_KEY (replicas share it), else the key file, created on
// first start.
func (f *LedgerFlags) ledgerSigner(dataDir string) (*ledger.Signer, error) {
	if v := os.Getenv("POSTURE_LEDGER_KEY"); v != "" {
		key, err := ledger.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("POSTURE_LEDGER_KEY: %w", err)
		}
		return ledger.NewSigner(key), nil
	}
	path := f.LedgerKeyFile
	if path == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		path = filepath.Join(dataDir, LedgerKeyFile)
	}
	key, err := ledger.LoadOrCreateKey(path)
	if err != nil {
		return nil, fmt.Errorf("ledger key %s: %w", path, err)
	}
	return ledger.NewSigner(key), nil
}

// pruneLedger deletes ledger entries older than the retention, hourly.
func pruneLedger(ctx context.Context, store posture.Store, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		var n int
		err := store.Write(ctx, func(tx posture.Tx) error {
			var err error
			n, err = tx.PruneEvents(time.Now().Add(-retention))
			return err
		})
		if err != nil && ctx.Err() == nil {
			log.Error("pruning the ledger", "err", err)
		} else if n > 0 {
			log.Info("ledger entries past retention deleted", "entries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

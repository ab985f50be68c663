package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/graph"
)

// readyChecks are the conditions of /readyz: the store answers and the
// Resource Graph tables are loaded (they load while the server already
// serves the API). Append a check here for every other view a replica must
// have before it takes traffic.
func readyChecks(store posture.Store, tables *graph.Service, log *slog.Logger) []api.ReadyCheck {
	return []api.ReadyCheck{
		{Name: "store", Check: func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				// The driver's text may name hosts and users, and
				// /readyz has no auth: the log has it.
				log.Warn("not ready: the store does not answer", "err", err)
				return errStoreDown
			}
			return nil
		}},
		{Name: "resource-graph", Check: func(context.Context) error {
			if !tables.Ready() {
				return errTablesLoading
			}
			return nil
		}},
	}
}

var (
	errStoreDown     = errors.New("the store does not answer")
	errTablesLoading = errors.New("the Resource Graph tables are loading")
)

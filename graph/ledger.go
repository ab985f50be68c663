package graph

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/audit"
)

// AuditEvents is posture's table of the audit ledger: one row per entry
// (changes, sign-ins, denials), readable like the activity log where the
// caller may read the entry's scope.
const AuditEvents = "AuditEvents"

// ledgerBatch bounds one read of new ledger entries.
const ledgerBatch = 5000

// syncLedger appends the ledger entries written since the last query that
// used the table. The table is filled on demand: most queries never read
// it, and the ledger only grows.
func (g *Service) syncLedger(ctx context.Context) error {
	g.ledgerMu.Lock()
	defer g.ledgerMu.Unlock()
	for {
		var page []*posture.Event
		err := g.Store.Read(ctx, func(tx posture.Tx) error {
			var err error
			page, err = tx.Events(posture.EventFilter{After: g.ledgerSeq, Limit: ledgerBatch})
			return err
		})
		if err != nil || len(page) == 0 {
			return err
		}
		rows := make([][]byte, len(page))
		for i, e := range page {
			rows[i] = g.ledgerRow(e)
		}
		if err := g.db.Upsert(AuditEvents, rows...); err != nil {
			return err
		}
		g.ledgerSeq = page[len(page)-1].Seq
		if len(page) < ledgerBatch {
			return nil
		}
	}
}

// ledgerRow is an entry as a row. Its id sits under the entry's scope, so
// that the caller's read rights filter rows like any other.
func (g *Service) ledgerRow(e *posture.Event) []byte {
	scope := strings.TrimSuffix(e.Scope, "/")
	seq := strconv.FormatInt(e.Seq, 10)
	var sub, rg string
	if id, err := armid.Parse(e.Scope); err == nil {
		sub, rg = id.SubscriptionID(), id.ResourceGroup()
	}
	props := map[string]any{
		"sequenceNumber": e.Seq, "timestamp": e.At.UTC().Format(time.RFC3339Nano), "kind": e.Kind,
		"caller": e.Actor, "callerType": e.ActorType, "action": e.Action, "scope": e.Scope, "status": audit.Status(e),
		"hash": hex.EncodeToString(e.Hash), "previousHash": hex.EncodeToString(e.Prev),
		"before": json.RawMessage(orNull(e.Before)), "after": json.RawMessage(orNull(e.After)),
	}
	row := map[string]any{
		"id": scope + "/providers/Posture.Audit/entries/" + seq, "name": seq, "type": "posture.audit/entries",
		"tenantId": g.TenantID, "subscriptionId": sub, "resourceGroup": rg, "properties": props,
	}
	b, _ := json.Marshal(row)
	return b
}

func orNull(b json.RawMessage) []byte {
	if len(b) == 0 || !json.Valid(b) {
		return []byte("null")
	}
	return b
}

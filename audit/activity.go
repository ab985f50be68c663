package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// Service serves the ledger to the API.
type Service struct {
	Store    posture.Store
	TenantID string
	// Keys are the public keys of the checkpoint signer, named in exports.
	Keys []ed25519.PublicKey
}

// Entries returns up to f.Limit entries in sequence order.
func (s *Service) Entries(ctx context.Context, f posture.EventFilter) ([]*posture.Event, error) {
	var out []*posture.Event
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		out, err = tx.Events(f)
		return err
	})
	return out, err
}

// Activity-log levels and statuses posture reports, in Azure's words.
const (
	levelInformational = "Informational"
	levelWarning       = "Warning"
)

type localized struct {
	Value          string `json:"value"`
	LocalizedValue string `json:"localizedValue"`
}

func loc(s string) localized { return localized{s, s} }

// ActivityEvent renders a ledger entry as Azure's activity log EventData
// (GET …/providers/Microsoft.Insights/eventtypes/management/values). The
// ledger's own fields (sequence number, hash, digests) are under
// properties, as strings like Azure's properties bag.
func (s *Service) ActivityEvent(e *posture.Event) json.RawMessage {
	status, sub, level := Status(e), "", levelInformational
	switch e.Kind {
	case posture.EventDenied:
		sub, level = "Forbidden", levelWarning
	case posture.EventSignInFailed:
		sub, level = "Unauthorized", levelWarning
	}
	scope := e.Scope
	if scope == "" {
		scope = "/"
	}
	var rg, subID, typ string
	if id, err := armid.Parse(scope); err == nil {
		rg, subID, typ = id.ResourceGroup(), id.SubscriptionID(), id.Type()
	}
	provider := Provider(e)
	seq := strconv.FormatInt(e.Seq, 10)
	ts := e.At.UTC().Format(time.RFC3339Nano)
	props := map[string]string{
		"kind": e.Kind, "sequenceNumber": seq, "hash": hex.EncodeToString(e.Hash), "previousHash": hex.EncodeToString(e.Prev),
		"callerType": e.ActorType,
	}
	if e.Before != nil {
		props["before"] = string(e.Before)
	}
	if e.After != nil {
		props["after"] = string(e.After)
	}
	idBase := strings.TrimSuffix(scope, "/")
	if subID != "" {
		idBase = "/subscriptions/" + subID
	}
	doc := map[string]any{
		"authorization":        map[string]string{"action": e.Action, "scope": scope},
		"caller":               e.Actor,
		"channels":             "Operation",
		"claims":               map[string]string{},
		"correlationId":        seq,
		"description":          "",
		"eventDataId":          seq,
		"eventName":            loc("EndRequest"),
		"category":             loc("Administrative"),
		"eventTimestamp":       ts,
		"id":                   idBase + "/providers/Microsoft.Insights/eventtypes/management/values/" + seq,
		"level":                level,
		"operationId":          seq,
		"operationName":        loc(e.Action),
		"resourceGroupName":    rg,
		"resourceProviderName": loc(provider),
		"resourceType":         loc(typ),
		"resourceId":           scope,
		"status":               loc(status),
		"subStatus":            loc(sub),
		"submissionTimestamp":  ts,
		"subscriptionId":       subID,
		"tenantId":             s.TenantID,
		"properties":           props,
	}
	b, _ := json.Marshal(doc)
	return b
}

// Status is an entry's activity-log status: Failed for refusals, else
// Succeeded.
func Status(e *posture.Event) string {
	if e.Kind == posture.EventDenied || e.Kind == posture.EventSignInFailed {
		return "Failed"
	}
	return "Succeeded"
}

// Provider is the resource provider of an entry's scope ("" for the root).
func Provider(e *posture.Event) string {
	id, err := armid.Parse(e.Scope)
	if err != nil {
		return ""
	}
	provider, _, _ := strings.Cut(id.Type(), "/")
	return provider
}

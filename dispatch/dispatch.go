// Package dispatch keeps Defender's workflow automations
// (Microsoft.Security/automations, parsed by package automation) and
// delivers the events they select: as a change feed after the Defender
// view, it sees each assessment and secure score that changed, matches the
// automations of its subscription, and queues one job per deliverable
// action; the job POSTs the event, in the shape of the API's own document,
// to the Logic App or endpoint.
//
// The automation's document lives with the estate (Resource Graph shows it
// in securityresources) without its write-only values (the Logic App uri,
// the Event Hub connection string); those live in a setting of the store
// that no API serves.
package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/automation"
)

const typeKey = "microsoft.security/automations"

// secretKey is the setting that holds an automation's full document.
func secretKey(key string) string { return "automation:" + key }

// Service stores automations and dispatches their events.
type Service struct {
	Store     posture.Store
	Resources posture.ResourceService
	Now       posture.Clock
	Logger    *slog.Logger
	// Wake tells the queue that jobs were enqueued.
	Wake func()

	mu     sync.RWMutex
	loaded bool
	all    map[string]*automation.Automation // by lower-case id
	events chan []event
	start  sync.Once
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func parseID(text string) (armid.ID, error) {
	id, err := armid.Parse(text)
	if err != nil {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "'%s' is not a valid id: %v.", text, err)
	}
	if !strings.EqualFold(id.Type(), automation.Type) || id.ResourceGroup() == "" {
		return armid.ID{}, posture.Errorf(posture.EINVALID, "InvalidResourceId", "'%s' is not an automation id (/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.Security/automations/{name}).", text)
	}
	if err := automation.ValidateName(id.Name()); err != nil {
		return armid.ID{}, err
	}
	return id, nil
}

// stored returns an automation with its write-only values; nil when none.
func (s *Service) stored(ctx context.Context, key string) (*automation.Automation, error) {
	var doc string
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		doc, err = tx.Setting(secretKey(key))
		return err
	})
	if err != nil || doc == "" {
		return nil, err
	}
	return automation.FromStored([]byte(doc))
}

// Get returns an automation's document in the shape of apiVersion.
func (s *Service) Get(ctx context.Context, idText, apiVersion string) ([]byte, string, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, "", err
	}
	r, err := s.Resources.GetResource(ctx, id.String())
	if err != nil {
		return nil, "", err
	}
	a, err := s.stored(ctx, id.Key())
	if err != nil {
		return nil, "", err
	}
	if a == nil {
		return nil, "", posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The automation '%s' was not found.", id)
	}
	return automation.Document(r.ID, r.Name, a, r.ETag, apiVersion), r.ETag, nil
}

// Put creates or replaces an automation (patch: a PATCH of the stored
// one). The answer is its document in the shape of apiVersion.
func (s *Service) Put(ctx context.Context, idText string, body []byte, apiVersion, ifMatch string, patch bool) ([]byte, bool, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, false, err
	}
	prev, err := s.stored(ctx, id.Key())
	if err != nil {
		return nil, false, err
	}
	var a *automation.Automation
	if patch {
		if prev == nil {
			return nil, false, posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The automation '%s' was not found.", id)
		}
		cp := *prev
		a = &cp
		if err := a.ApplyPatch(body, apiVersion); err != nil {
			return nil, false, err
		}
	} else {
		if a, err = automation.Parse(body, apiVersion); err != nil {
			return nil, false, err
		}
		a.KeepSecrets(prev)
	}
	if err := a.CheckScopes(id.SubscriptionID()); err != nil {
		return nil, false, err
	}
	full := automation.StoredDocument(a)
	// The secrets first: a failed estate write leaves a setting the next
	// PUT overwrites, never a document without its uri.
	if err := s.Store.Write(ctx, func(tx posture.Tx) error { return tx.PutSetting(secretKey(id.Key()), string(full)) }); err != nil {
		return nil, false, err
	}
	r, err := armdoc.FromPut(id, automation.Document(id.String(), id.Name(), a, "", automation.StoredVersion))
	if err != nil {
		return nil, false, err
	}
	res, err := s.Resources.PutResource(ctx, r, posture.PutStrict, ifMatch)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	if s.all != nil {
		s.all[id.Key()] = a
	}
	s.mu.Unlock()
	return automation.Document(res.Resource.ID, res.Resource.Name, a, res.Resource.ETag, apiVersion), res.Created, nil
}

// Delete deletes an automation; false when there was none.
func (s *Service) Delete(ctx context.Context, idText string) (bool, error) {
	id, err := parseID(idText)
	if err != nil {
		return false, err
	}
	ok, err := s.Resources.DeleteResource(ctx, id.String(), "")
	if err != nil {
		return false, err
	}
	if err := s.Store.Write(ctx, func(tx posture.Tx) error { return tx.PutSetting(secretKey(id.Key()), "") }); err != nil {
		return ok, err
	}
	s.mu.Lock()
	delete(s.all, id.Key())
	s.mu.Unlock()
	return ok, nil
}

// List returns the documents of the automations under a subscription or
// resource group, in the shape of apiVersion.
func (s *Service) List(ctx context.Context, scope armid.ID, apiVersion string) ([]json.RawMessage, error) {
	page, err := s.Resources.ListResources(ctx, posture.ResourceFilter{Under: scope.Key(), Types: []string{typeKey}, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, r := range page.Resources {
		a, err := s.stored(ctx, r.Key)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, automation.Document(r.ID, r.Name, a, r.ETag, apiVersion))
		}
	}
	return out, nil
}

// Validate answers POST …/validate for a body.
func (s *Service) Validate(idText string, body []byte, apiVersion string) (automation.ValidationResult, error) {
	id, err := parseID(idText)
	if err != nil {
		return automation.ValidationResult{}, err
	}
	a, err := automation.Parse(body, apiVersion)
	if err != nil {
		return automation.ValidationResult{IsValid: false, Message: posture.ErrorCode(err) + ": " + errorMessage(err)}, nil
	}
	return a.Validate(id.SubscriptionID()), nil
}

func errorMessage(err error) string {
	if pe, ok := err.(*posture.Error); ok {
		return pe.Message
	}
	return err.Error()
}

package api

import (
	"encoding/json"
	"net/http"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/automation"
)

func (s *Server) registerAutomations() {
	if s.Automations == nil {
		return
	}
	s.handle(automation.Type, &typeRoutes{
		versions: apiVersions(automation.Versions),
		get: func(c *call) error {
			doc, etag, err := c.s.Automations.Get(c.ctx, c.id.String(), c.apiVersion)
			if err != nil {
				return err
			}
			c.w.Header().Set("ETag", etag)
			return c.ok(http.StatusOK, doc)
		},
		put:   func(c *call) error { return writeAutomation(c, false) },
		patch: func(c *call) error { return writeAutomation(c, true) },
		del: func(c *call) error {
			ok, err := c.s.Automations.Delete(c.ctx, c.id.String())
			if err != nil {
				return err
			}
			if !ok {
				c.w.WriteHeader(http.StatusNoContent)
				return nil
			}
			return c.ok(http.StatusOK, nil)
		},
		list: func(c *call) error {
			if c.id.Kind() != armid.Subscription && c.id.Kind() != armid.ResourceGroup {
				return posture.Errorf(posture.EINVALID, "InvalidScope", "Automations are listed at a subscription or a resource group.")
			}
			docs, err := c.s.Automations.List(c.ctx, c.id, c.apiVersion)
			if err != nil {
				return err
			}
			return c.list(docs, "")
		},
		actions: map[string]handlerFunc{"validate": func(c *call) error {
			body, err := c.body()
			if err != nil {
				return err
			}
			res, err := c.s.Automations.Validate(c.id.String(), body, c.apiVersion)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(res)
			return c.ok(http.StatusOK, b)
		}, "trigger": triggerAutomation},
		// Validating writes nothing: whoever may read automations there
		// may check a body.
		actionNames: map[string]string{"validate": "Microsoft.Security/automations/read", "trigger": "Microsoft.Security/automations/trigger/action"},
	})
}

func writeAutomation(c *call, patch bool) error {
	if !patch && c.id.Kind() != armid.Resource {
		return posture.Errorf(posture.EINVALID, "InvalidResourceId", "An automation lives in a resource group.")
	}
	if patch && !automation.SupportsPatch(c.apiVersion) {
		return posture.Errorf(posture.EMETHOD, "MethodNotAllowed", "PATCH of automations needs api-version 2023-12-01-preview.")
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	doc, created, err := c.s.Automations.Put(c.ctx, c.id.String(), body, c.apiVersion, c.r.Header.Get("If-Match"), patch)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.ok(status, doc)
}

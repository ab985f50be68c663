package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// ExemptionUpdateCmd is `posture exemption update`, like az policy
// exemption update: resource selectors and scope validation go by PATCH
// (Azure's update model has only those); any other property by a GET and a
// PUT of the whole document with If-Match of the ETag read, so that a
// change made meanwhile is refused (exit code 5) rather than overwritten.
type ExemptionUpdateCmd struct {
	exemptionTarget
	Category          string            `short:"e" enum:",Waiver,Mitigated,waiver,mitigated" default:"" help:"Waiver (risk accepted) or Mitigated (handled another way)."`
	References        []string          `short:"r" help:"policyDefinitionReferenceIds to exempt, replacing the current ones; 'all' for the whole assignment."`
	ExpiresOn         string            `help:"Expiry, RFC 3339 or a duration from now (e.g. 720h); 'never' removes it."`
	DisplayName       string            `help:"Display name."`
	Description       string            `help:"Justification."`
	Metadata          map[string]string `help:"Metadata key=value pairs merged into the current ones; key= removes a key."`
	ResourceSelectors string            `help:"Resource selectors as JSON (a list, as in Azure), or @file; [] removes them."`
	ScopeCheck        string            `name:"assignment-scope-validation" enum:",Default,DoNotValidate" default:"" help:"Default, or DoNotValidate to exempt outside the assignment's scope."`
	IfMatch           string            `help:"Change the exemption only if its ETag is still this one."`
	OutputFlags
}

// beforeUpdatePut, when set (by tests), runs between update's GET and PUT:
// the window in which another change can happen.
var beforeUpdatePut func()

func (c *ExemptionUpdateCmd) Run(ctx context.Context, streams *IO) error {
	patch, err := c.patchProps()
	if err != nil {
		return err
	}
	put := c.Category != "" || len(c.References) > 0 || c.ExpiresOn != "" || c.DisplayName != "" || c.Description != "" || len(c.Metadata) > 0
	if !put && len(patch) == 0 {
		return usageError{fmt.Errorf("nothing to change: give at least one property to update")}
	}
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	header := http.Header{}
	if c.IfMatch != "" {
		header.Set("If-Match", quoteETag(c.IfMatch))
	}
	var out json.RawMessage
	if !put {
		_, h, err := cl.Send(ctx, "PATCH", c.path(""), exemptionAPIVersion, nil, header, map[string]any{"properties": patch}, &out)
		if err != nil {
			return changedMeanwhile(err)
		}
		printWarnings(streams, h)
		return c.printDoc(streams.Out, out)
	}
	// The stored version carries every property, so the PUT loses none.
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_, h, err := cl.Send(ctx, "GET", c.path(""), exemption.StoredVersion, nil, nil, nil, &doc)
	if err != nil {
		return err
	}
	etag := h.Get("ETag")
	if etag == "" {
		return fmt.Errorf("the server sent no ETag for %s: cannot update it safely", c.path(""))
	}
	if c.IfMatch != "" && header.Get("If-Match") != etag {
		return posture.Errorf(posture.EPRECONDITION, "PreconditionFailed", "The exemption's ETag is %s, not %s: it changed; nothing was updated.", etag, header.Get("If-Match"))
	}
	props := doc.Properties
	if props == nil {
		props = map[string]json.RawMessage{}
	}
	delete(props, "postureStatus") // posture's read-only status
	if err := c.apply(props, time.Now()); err != nil {
		return err
	}
	for k, v := range patch {
		b, _ := json.Marshal(v)
		props[k] = b
	}
	if beforeUpdatePut != nil {
		beforeUpdatePut()
	}
	_, h, err = cl.Send(ctx, "PUT", c.path(""), exemption.StoredVersion, nil, http.Header{"If-Match": {etag}}, map[string]any{"properties": props}, nil)
	if err != nil {
		return changedMeanwhile(err)
	}
	printWarnings(streams, h)
	// Answer in the CLI's api-version, as show does.
	if _, err := cl.Do(ctx, "GET", c.path(""), exemptionAPIVersion, nil, nil, &out); err != nil {
		return err
	}
	return c.printDoc(streams.Out, out)
}

// patchProps are the properties Azure's PATCH changes.
func (c *ExemptionUpdateCmd) patchProps() (map[string]any, error) {
	patch := map[string]any{}
	if c.ScopeCheck != "" {
		patch["assignmentScopeValidation"] = c.ScopeCheck
	}
	if c.ResourceSelectors != "" {
		text := c.ResourceSelectors
		if name, ok := strings.CutPrefix(text, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				return nil, usageError{fmt.Errorf("--resource-selectors: %w", err)}
			}
			text = string(b)
		}
		var sel []json.RawMessage
		if err := json.Unmarshal([]byte(text), &sel); err != nil {
			return nil, usageError{fmt.Errorf("--resource-selectors: a JSON list of selectors, e.g. [{\"name\":\"eu\",\"selectors\":[{\"kind\":\"resourceLocation\",\"in\":[\"westeurope\"]}]}]: %v", err)}
		}
		patch["resourceSelectors"] = sel
	}
	return patch, nil
}

// apply sets the flags' properties on a document's properties.
func (c *ExemptionUpdateCmd) apply(props map[string]json.RawMessage, now time.Time) error {
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		props[k] = b
	}
	if c.Category != "" {
		set("exemptionCategory", c.Category)
	}
	if len(c.References) == 1 && strings.EqualFold(c.References[0], "all") {
		delete(props, "policyDefinitionReferenceIds")
	} else if len(c.References) > 0 {
		set("policyDefinitionReferenceIds", c.References)
	}
	switch {
	case c.ExpiresOn == "":
	case strings.EqualFold(c.ExpiresOn, "never"):
		delete(props, "expiresOn")
	default:
		exp, err := parseExpiry(c.ExpiresOn, now)
		if err != nil {
			return err
		}
		set("expiresOn", exp)
	}
	if c.DisplayName != "" {
		set("displayName", c.DisplayName)
	}
	if c.Description != "" {
		set("description", c.Description)
	}
	if len(c.Metadata) > 0 {
		meta := map[string]any{}
		if raw := props["metadata"]; len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return fmt.Errorf("the exemption's metadata is not an object: %w", err)
			}
		}
		for k, v := range c.Metadata {
			if v == "" {
				delete(meta, k)
			} else {
				meta[k] = v
			}
		}
		if len(meta) == 0 {
			delete(props, "metadata")
		} else {
			set("metadata", meta)
		}
	}
	return nil
}

// parseExpiry reads an RFC 3339 time or a duration from now.
func parseExpiry(s string, now time.Time) (string, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d).UTC().Truncate(time.Second).Format(time.RFC3339), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	return "", usageError{fmt.Errorf("--expires-on %q: give an RFC 3339 time or a duration", s)}
}

// quoteETag accepts an ETag with or without its quotes.
func quoteETag(s string) string {
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `W/"`) || s == "*" {
		return s
	}
	return `"` + s + `"`
}

// changedMeanwhile explains a 412: someone changed the exemption since it
// was read; nothing was overwritten.
func changedMeanwhile(err error) error {
	if posture.ErrorKind(err) == posture.EPRECONDITION {
		return fmt.Errorf("the exemption changed since it was read, so nothing was overwritten; read it again (posture exemption show) and retry: %w", err)
	}
	return err
}

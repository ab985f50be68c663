package armdoc

import (
	"encoding/json"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// ImpliedSubscription returns the document of a subscription that imported
// resources live in but that was not imported itself. Its display name is
// its id, and its tag posture:implied says how it came to be.
func ImpliedSubscription(sub string) *posture.Resource {
	return mustNormalize(map[string]any{
		"id":             armid.SubscriptionScope(sub).String(),
		"subscriptionId": sub,
		"displayName":    sub,
		"state":          "Enabled",
		"tags":           map[string]string{"posture:implied": "true"},
	})
}

// ImpliedResourceGroup returns the document of a resource group that
// imported resources live in but that was not imported itself. It takes the
// location of the first resource seen in it.
func ImpliedResourceGroup(sub, rg, location string) *posture.Resource {
	id := armid.ResourceGroupScope(sub, rg)
	doc := map[string]any{
		"id":         id.String(),
		"name":       rg,
		"type":       armid.ResourceGroupType,
		"properties": map[string]string{"provisioningState": "Succeeded"},
		"tags":       map[string]string{"posture:implied": "true"},
	}
	if location != "" {
		doc["location"] = location
	}
	return mustNormalize(doc)
}

// mustNormalize normalises a document built from parts of a valid id.
func mustNormalize(doc map[string]any) *posture.Resource {
	body, _ := json.Marshal(doc)
	r, err := Normalize(body)
	if err != nil {
		panic("armdoc: implied container does not normalise: " + err.Error())
	}
	return r
}

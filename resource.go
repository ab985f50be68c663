package posture

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Resource is one ARM document of the estate (a management group,
// subscription, resource group, resource, child or extension resource) with
// the columns posture indexes. Body is the document in the shape of an ARM GET
// response; the other fields are derived from it and from its id.
type Resource struct {
	ID             string            // ARM id, keywords in ARM casing, names as given.
	Key            string            // lower-case ID: the primary key.
	Type           string            // full ARM type as the document spells it, e.g. "Microsoft.Compute/virtualMachines".
	Name           string            // last name segment of the id.
	Kind           string            // the document's "kind" field.
	Location       string            // normalised: lower case, no spaces ("West US" -> "westus").
	SubscriptionID string            // lower case; "" for management groups.
	ResourceGroup  string            // lower case; "" above resource groups.
	ParentKey      string            // key of the parent scope in the hierarchy ("" for the tenant root group).
	Tracked        bool              // a top-level resource in a resource group (what ARM's resource lists return).
	Tags           map[string]string // the document's tags.
	Body           json.RawMessage
	ETag           string
	CreatedAt      time.Time
	ChangedAt      time.Time
}

// TypeKey returns the lower-case type, the form used for indexing and
// comparison.
func (r *Resource) TypeKey() string { return strings.ToLower(r.Type) }

// ResourceFilter selects resources for a list. Zero fields do not filter.
type ResourceFilter struct {
	// Under lists resources whose id lies under this key (segment-aware).
	Under string
	// Parent lists the direct children of this key (child or extension
	// resources of a resource, resource groups of a subscription, ...).
	Parent string
	// Types restricts to these lower-case types.
	Types []string
	// TrackedOnly keeps only top-level resources in resource groups.
	TrackedOnly bool
	// TagName and TagValue filter on a tag (name case-insensitive, value exact;
	// TagValue "" means any value).
	TagName  string
	TagValue string
	// Location keeps resources in this normalised location.
	Location string
	// After is an exclusive key cursor for keyset paging.
	After string
	// Limit caps the page; 0 means the service default.
	Limit int
	// KeysOnly leaves Body, Tags, Kind and Location out of the results, for
	// callers that only index resources.
	KeysOnly bool
}

// ResourcePage is one page of a list. Next is the cursor of the following
// page, "" on the last one.
type ResourcePage struct {
	Resources []*Resource
	Next      string
}

// PutMode says how strictly a write checks that its containers exist.
type PutMode int

// Put modes.
const (
	// PutStrict is the ARM API: the subscription, resource group or parent
	// resource must exist (404 otherwise).
	PutStrict PutMode = iota
	// PutImport accepts documents in any order and creates the containers
	// they imply (subscription, resource group) when missing.
	PutImport
)

// PutResult tells what a write did.
type PutResult struct {
	Resource *Resource
	Created  bool
}

// ImportSummary counts what an import did. Rejected lists the documents it
// refused with the reason; none of them was written.
type ImportSummary struct {
	Read     int               `json:"read"`
	Created  int               `json:"created"`
	Updated  int               `json:"updated"`
	Implied  int               `json:"impliedContainers"`
	Rejected []*ImportRejected `json:"rejected,omitempty"`
}

// ImportRejected is one refused document of an import.
type ImportRejected struct {
	Index   int    `json:"index"`
	Source  string `json:"source,omitempty"`
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Add merges o into s.
func (s *ImportSummary) Add(o ImportSummary) {
	s.Read += o.Read
	s.Created += o.Created
	s.Updated += o.Updated
	s.Implied += o.Implied
	s.Rejected = append(s.Rejected, o.Rejected...)
}

// ResourceService manages the estate inventory.
type ResourceService interface {
	// GetResource returns the resource with the given id.
	// Returns ENOTFOUND (ResourceNotFound, ResourceGroupNotFound,
	// SubscriptionNotFound) when it does not exist.
	GetResource(ctx context.Context, id string) (*Resource, error)

	// PutResource creates or replaces a resource. ifMatch, when not empty,
	// must equal the current ETag ("*" = must exist). In PutStrict mode the
	// containers must exist: ENOTFOUND otherwise; EPRECONDITION on an ETag
	// mismatch.
	PutResource(ctx context.Context, r *Resource, mode PutMode, ifMatch string) (PutResult, error)

	// DeleteResource deletes a resource and everything under it (children,
	// extension resources, the contents of a resource group). It reports
	// whether the resource existed. A management group with children is
	// ECONFLICT.
	DeleteResource(ctx context.Context, id string, ifMatch string) (bool, error)

	// ListResources returns one page of resources in key order.
	ListResources(ctx context.Context, f ResourceFilter) (ResourcePage, error)

	// ImportResources writes a batch of resources in PutImport mode. Each
	// document is written whole or not at all.
	ImportResources(ctx context.Context, rs []*Resource) (ImportSummary, error)
}

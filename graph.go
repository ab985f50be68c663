package posture

import (
	"context"
	"encoding/json"
)

// GraphQuery is a Resource Graph query request (POST
// /providers/Microsoft.ResourceGraph/resources).
type GraphQuery struct {
	Query            string
	Subscriptions    []string
	ManagementGroups []string
	// Top is the page size (1..1000; 0 = 1000), Skip the rows to skip.
	Top, Skip int
	// SkipToken continues a previous page.
	SkipToken string
	// ResultFormat is "objectArray" or "table".
	ResultFormat string
	Facets       []GraphFacet
	// AllowPartialScopes is accepted; posture always answers for the
	// scopes the caller may read.
	AllowPartialScopes bool
	// Readable restricts rows to what the caller may read; nil shows all.
	Readable *ReadableScopes
	// Principal is the caller's id: pages of one caller's result are not
	// served to another.
	Principal string
}

// ReadableScopes says which rows a principal may read: whole subscriptions,
// narrower scopes (resource groups, resources), or everything.
type ReadableScopes struct {
	All           bool
	Subscriptions []string // lower case
	Scopes        []string // lower-case ids of resource groups and resources
	// Allow, when set, admits a row by its id (any casing) that the lists
	// above do not; it must be safe for concurrent use.
	Allow func(id string) bool
}

// GraphFacet asks for a summary of one expression over the query's rows.
type GraphFacet struct {
	Expression string
	SortBy     string
	SortOrder  string // asc or desc (default)
	Filter     string
	Top        int // 1..1000; 0 = 10
}

// GraphResult is one page of a Resource Graph query.
type GraphResult struct {
	TotalRecords int64
	Count        int
	Truncated    bool
	SkipToken    string
	Data         json.RawMessage
	Facets       []json.RawMessage
}

// GraphService answers Resource Graph queries over the estate.
type GraphService interface {
	// Query runs a query. EINVALID (code BadRequest, with ARG's details)
	// for a query that does not parse or run.
	Query(ctx context.Context, q *GraphQuery) (*GraphResult, error)
}

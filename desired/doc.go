// Package desired reads and writes exemptions-as-code files: the desired
// state that `posture exemptions plan` diffs against the server.
//
// Three formats are read, all to the same Entry:
//
//   - posture's own, in YAML or JSON (one schema; JSON is read through the
//     YAML parser so that every value has a line and column), with optional
//     top-level defaults (category, expiresOn, owner, ticket, metadata) for
//     the entries that lack them; an entry's metadata is laid over the
//     default metadata key by key;
//   - Enterprise Policy as Code (EPAC) exemption files, JSON or JSONC,
//     recognised by their $schema or by EPAC's field names
//     (exemptionCategory, policyAssignmentId);
//   - EPAC exemption CSV files (lists in a cell separated by '&', metadata
//     and resourceSelectors as JSON in their cells).
//
// A posture file:
//
//	defaults:
//	  owner: alice@contoso.com
//	exemptions:
//	  - name: storage-public-dev
//	    category: Waiver
//	    scope: /subscriptions/…/resourceGroups/rg-dev  # or scopes: [ … ]
//	    recommendation: 6c9a1d6c-…  # or assignment, policyDefinitionId/Name, policySetDefinitionId/Name
//	    expiresOn: 2027-01-31
//
// A bare date in expiresOn means 00:00:00 UTC of that day, as EPAC reads
// it: the exemption has expired from that instant on. Date-times without an
// offset are UTC too. An expiry that is not after now is a problem: a
// desired state that has already expired is a mistake, not an intent.
//
// Values are checked as far as the file allows: names, categories, the
// shape of scopes and of assignment and definition ids (package armid),
// expiry; whether the assignment, definition or recommendation exists is
// the planner's question. Field names are case-sensitive; blank text counts
// as not given; YAML aliases, merge keys and several documents are
// refused. EPAC's scope labels ("label:/subscriptions/…") and scope
// patterns ("*", subscriptionsPattern) are refused, because their meaning
// is EPAC's plan-time naming and expansion.
//
// Parse reports every problem it finds, each with the file, line, column
// and field path; it does not stop at the first. Write renders entries as
// posture YAML that parses back to the same entries.
//
// SOURCE.md lists where the EPAC field names and rules come from.
package desired

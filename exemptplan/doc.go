// Package exemptplan plans exemptions as code: it compares the entries of
// desired-state files (package desired) with the exemptions a server holds
// and says what to create, update, re-bind and delete, and why. It does no
// I/O: the caller fetches an Estate (assignments, initiatives,
// recommendations, exemptions, the management group hierarchy) and performs
// the Plan.
//
// # Fan-out
//
// An entry names its target in one of four ways:
//
//   - assignment: one assignment (optionally narrowed by referenceIds, or by
//     recommendation / policyDefinitionId to that definition's references);
//   - recommendation: an assessment key, a policy definition id or a
//     recommendation's display name, resolved to its policy definition;
//   - policyDefinitionId: every assignment at or above the scope that
//     assigns the definition, directly or in an initiative;
//   - policySetDefinitionId: every assignment at or above the scope of that
//     initiative (narrowed by referenceIds).
//
// A definition or initiative entry yields one exemption per scope and per
// assignment found, with the reference ids of the definition in that
// assignment's initiative. A scope inside an assignment's notScopes is a
// problem, not skipped: the exemption would have no effect there (EPAC
// issue 649).
//
// # Names
//
// An entry that yields one exemption at a scope gives it the entry's name.
// When it yields several at one scope (a definition assigned through
// several assignments that apply there), each is named
// "{name}-{h}", h being the first 8 hexadecimal digits of the SHA-256 of
// the lower-cased assignment id, the name cut to 55 characters first so
// that the result stays within Azure's 64. The rule depends only on the
// entry and the assignment, not on the order of anything listed.
//
// # Ownership
//
// Every exemption the plan writes carries, in its metadata:
//
//   - managedBy: "posture-code" (ManagedBy);
//   - ownerId: the owner id of the files (Options.OwnerID), so that two
//     pipelines each manage their own exemptions;
//   - assignmentDefinitionId: the policy definition or initiative the
//     assignment assigned when it was written, which lets the plan re-bind
//     the exemption when the assignment is deleted and recreated under
//     another id.
//
// An entry's owner and ticket are written as metadata.owner and
// metadata.ticketRef, the keys the portal and the request workflow use.
// Exemptions without managedBy were made elsewhere (portal, API, requests):
// under DesiredOwned they are reported as Unmanaged and left alone; under
// DesiredFull those at the scopes the files cover are deleted. Exemptions
// of another owner id are never touched. An entry naming an unmanaged
// exemption adopts it: an Update that adds the ownership metadata (and any
// other change the entry makes).
package exemptplan

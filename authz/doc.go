// Package authz decides who may do what where, the way Azure RBAC does: role
// definitions (Azure's built-in roles, shipped as data, plus custom roles),
// role assignments at the tenant root, a management group, a subscription, a
// resource group or a resource, and group memberships.
//
// A principal may perform an action at a scope when some role assignment of
// the principal, or of a group it belongs to, sits at that scope or above it
// and its role grants the action. A role grants an action when one of its
// permission blocks lists it in actions (wildcards allowed, case-insensitive)
// and not in notActions. There are no deny assignments: notActions only
// subtract within one block, and another assignment may grant the action back.
// Data actions are a separate list; "*" in actions grants none of them.
//
// Subscriptions sit under management groups by data, not by id, so the
// Authorizer asks a Hierarchy for the management groups above a subscription.
//
// The package is pure: it holds no connection to the store. The server builds
// an Authorizer from what it loaded and tells it about every change; readers
// see an immutable snapshot, swapped atomically on each change.
package authz

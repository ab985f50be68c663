package posture

import "context"

type principalKey struct{}

// NewContextWithPrincipal returns ctx carrying the calling principal.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the calling principal, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

type requestIDKey struct{}

// NewContextWithRequestID returns ctx carrying the request id.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// SystemActor names posture itself as the actor of its own jobs (expiry,
// bootstrap) in the ledger and in systemData.
const SystemActor = "posture"

// ActorFromContext returns who acts in ctx as the ledger and systemData name
// them: the principal's id and its createdByType (User, Application,
// ManagedIdentity), or posture itself when no principal is in ctx.
func ActorFromContext(ctx context.Context) (id, typ string) {
	p := PrincipalFromContext(ctx)
	if p == nil {
		return SystemActor, "Application"
	}
	switch p.Type {
	case PrincipalServicePrincipal:
		return p.ID, "Application"
	case "ManagedIdentity":
		return p.ID, "ManagedIdentity"
	}
	return p.ID, "User"
}

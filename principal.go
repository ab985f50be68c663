package posture

import (
	"context"
	"time"
)

// Principal types, as Azure names them in systemData and role assignments.
const (
	PrincipalUser             = "User"
	PrincipalGroup            = "Group"
	PrincipalServicePrincipal = "ServicePrincipal"
)

// Principal is someone or something that calls posture.
type Principal struct {
	ID          string    `json:"id"` // a GUID, like an Entra object id.
	Type        string    `json:"type"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Token is an API token minted by posture. Only the SHA-256 hash of the
// secret is stored; the secret is shown once, when the token is created.
type Token struct {
	ID          string
	PrincipalID string
	Name        string
	Hash        string // hex SHA-256 of the secret.
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never.
	RevokedAt   time.Time // zero: not revoked.
}

// Valid reports whether the token may be used at now.
func (t *Token) Valid(now time.Time) bool {
	if !t.RevokedAt.IsZero() {
		return false
	}
	return t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt)
}

// RoleAssignment grants a role to a principal at a scope; it is inherited by
// everything below the scope.
type RoleAssignment struct {
	ID               string // {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}
	Scope            string
	PrincipalID      string
	PrincipalType    string // User, Group or ServicePrincipal; "" when unknown
	RoleDefinitionID string
	Description      string
	CreatedAt        time.Time
	CreatedBy        string // principal id
	UpdatedAt        time.Time
	UpdatedBy        string
}

// Built-in role definition ids (Azure's, from the Azure built-in roles
// reference page).
const (
	RoleOwner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
)

// Authenticator turns a bearer token into a principal.
type Authenticator interface {
	// Authenticate returns the principal a bearer token stands for.
	// Returns EUNAUTHORIZED (AuthenticationFailed / ExpiredAuthenticationToken)
	// for a missing, unknown, revoked or expired token.
	Authenticate(ctx context.Context, bearer string) (*Principal, error)
}

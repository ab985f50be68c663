// Package posture holds the domain of posture, a self-hosted cloud security
// posture service with first-class exemptions: the types (resources,
// principals, ...), the service interfaces the stores implement, the one error
// type and the context helpers. It imports nothing from the rest of the
// project; subpackages are named after the dependency or idea they wrap, and
// only cmd/posture wires them together.
package posture

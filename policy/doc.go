// Package policy evaluates Azure Policy definitions — the real built-in JSON,
// loaded as-is — over ARM resource documents, and computes compliance the
// way Azure does. It is posture's policy engine; the server, the ARM API and
// the CLI build on it.
//
// # Definitions and the registry
//
// ParseDefinition and ParseSetDefinition read documents in the official
// repository layout ({"properties": {...}, "id", "name"}) or bare
// properties, validate them and return coded errors (ARM codes such as
// InvalidPolicyRule, InvalidPolicyParameters, UndefinedPolicyParameter,
// PolicyParameterValueNotAllowed, PolicyDefinitionNotFound) with the JSON
// path of each problem. A Registry holds definitions and initiatives by id
// (case-insensitive). Builtins returns one loaded with the embedded MCSB v1
// and v2 initiatives and their members (see builtin/SOURCE.md);
// Registry.LoadDir reads any directory in the repository layout.
//
// # Compiling and evaluating
//
// Compile turns an Assignment into a CompiledAssignment: the initiative is
// expanded, parameters cascade (assignment value, then initiative default,
// then definition default), every rule is bound once (parameters become
// constants, pure functions are folded, aliases resolve to document paths,
// like/match patterns compile) and indexed by the resource types its
// if-condition can match.
//
//	reg, _ := policy.Builtins()
//	ca, err := policy.Compile(&policy.Assignment{PolicyDefinitionID: policy.MCSBv1ID, Scope: "/subscriptions/s"}, reg)
//	r, _ := policy.NewResource(doc) // decode each document once, reuse it
//	results := ca.Evaluate(ctx, r, policy.NewIndex(related...))
//
// Evaluate returns one Result per applicable reference with a
// ComplianceState (Compliant, NonCompliant, Exempt via EvalOptions.IsExempt,
// Error with the evaluation error kept, Unknown), the effect and reasons
// naming the field, the resolved path, the operator and the actual and
// expected values. Lookup answers related-resource queries for existence
// checks; Index is an in-memory Lookup.
//
// # Static facts and classification
//
// Each CompiledReference carries Facts (the resource types it can match, the
// related type and scope its existence check reads, the fields it reads) and
// each Definition a Class saying whether posture evaluates it from ARM
// documents (self-contained, related-arm), from imported Defender results
// (scanner-assessment, guest-configuration: Unknown without them), or not at
// all (data-plane modes).
//
// # Offline evaluation
//
// EvalOffline backs `posture policy eval`: one definition (or one initiative
// member), one resource, its related documents and parameters in; a stable
// JSON-able OfflineResult out.
//
// Where Azure's documentation is silent, the behaviour chosen is recorded
// with its evidence in docs/policy-semantics.md; the conformance corpus in
// testdata/cases states the expectation of each case and its source.
package policy

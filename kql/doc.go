// Package kql is posture's Kusto Query Language engine for Azure Resource
// Graph–style queries: a positioned lexer, a recursive-descent parser with
// accumulated errors, a closed AST with a round-tripping printer, a binder
// that types expressions and names result columns the way Kusto does, and a
// pull-based evaluator over compact, immutable table snapshots.
//
// Parsing:
//
//	q, err := kql.Parse(text, kql.ParseOptions{})   // strict ARG dialect
//	q.String()                                       // canonical KQL
//
// Tables live in a Database. Rows are JSON objects in the ARG row shape,
// decoded once into a compact binary form with interned strings; writes
// copy only the chunk they touch and publish a new snapshot atomically, so
// queries keep running on the snapshot they started with:
//
//	db := kql.NewDatabase()
//	db.Upsert("SecurityResources", rows...)   // rows are []byte JSON objects, keyed by lower-case id
//	db.Delete("SecurityResources", id)
//	snap := db.Snapshot()
//
// Running:
//
//	res, err := q.Run(ctx, snap, kql.RunOptions{Filter: kql.SubscriptionFilter(subs...)})
//	res.WriteObjectArray(w, skip, top)   // ARG "objectArray" format
//	res.WriteTable(w, skip, top)         // ARG "table" format
//
// Every failure is an *Error with an ARG-style Code (ParserFailure,
// InvalidQuery, UnsupportedJoinFlavor, ResponsePayloadTooLarge, QueryTimeout,
// UnsupportedFunction, ...) and, for query errors, a line and column. A panic
// inside the evaluator is recovered at Run and reported as InternalError.
//
// See README.md in this directory for the supported operators and functions,
// the test-script format and the differences from Azure Resource Graph.
package kql

// Package ledger makes posture's audit ledger tamper-evident: it chains
// every entry to the one before by a hash, signs checkpoints of the chain
// with a key the database does not hold, and verifies a ledger, or an export
// of it, entry by entry.
//
// # Why each part
//
// The hash chain finds an edited, removed, reordered or duplicated row.
// Alone it cannot find whoever edits a row and recomputes every later hash:
// that takes the signed checkpoints (made with an ed25519 key the store
// never sees in the database) or a head recorded elsewhere
// (Verifier.ExpectHead). Cutting rows off the end of the chain is likewise
// found only against a checkpoint or a recorded head.
//
// # Entry hash
//
// Hash(prev, e) is SHA-256 over, in this order:
//
//	bytes("posture-ledger-v1")
//	bytes(prev)
//	int(e.Seq)
//	int(e.At in UTC unix microseconds, rounded down)
//	bytes(e.Stream) bytes(e.Kind) bytes(e.Actor) bytes(e.ActorType)
//	bytes(e.Action) bytes(e.Scope)
//	Digest(e.Before) Digest(e.After)   (32 bytes each, no length)
//
// where int(x) is x as 8 bytes big-endian two's complement and bytes(b) is
// int(len(b)) followed by b. Digest(nil) is 32 zero bytes (the document was
// absent); Digest(b) for any other b, empty included, is SHA-256(b).
// FORMAT.md gives the checkpoint message, the export format and a test
// vector.
package ledger

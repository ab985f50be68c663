package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/ledger"
)

// appendEntries chains n sign-ins as the store does, with a checkpoint
// every 2 entries.
func appendEntries(signer *ledger.Signer, n int) ([]*posture.Event, []*posture.LedgerCheckpoint) {
	var entries []*posture.Event
	var cps []*posture.LedgerCheckpoint
	var prev []byte
	for i := 1; i <= n; i++ {
		e := &posture.Event{
			Seq: int64(i), Prev: prev, Kind: posture.EventSignIn, Actor: "alice", ActorType: "User",
			At: time.Date(2024, 5, 1, 12, 0, i, 0, time.UTC),
		}
		e.Hash = ledger.Hash(e.Prev, e)
		prev = e.Hash
		entries = append(entries, e)
		if i%2 == 0 {
			cp := signer.Sign(e.Seq, e.Hash, e.At)
			cps = append(cps, &cp)
		}
	}
	return entries, cps
}

// The verify loop: checkpoints first, then the entries in sequence order.
func Example() {
	signer := ledger.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	entries, cps := appendEntries(signer, 5)

	// The auditor has the public key only.
	pub, err := ledger.ParsePublicKey(ledger.EncodePublicKey(signer.PublicKey()))
	if err != nil {
		panic(err)
	}
	verify := func() ledger.Report {
		v := ledger.NewVerifier(pub)
		for _, cp := range cps {
			if err := v.Checkpoint(*cp); err != nil {
				panic(err)
			}
		}
		for _, e := range entries {
			v.Entry(e)
		}
		return v.Result()
	}

	r := verify()
	fmt.Printf("%d entries, %d checkpoints, last %d, broken: %v\n", r.Entries, r.Checkpoints, r.Last, r.Broken)

	// Someone rewrites entry 3 and every hash after it.
	entries[2].Actor = "mallory"
	for i := 2; i < len(entries); i++ {
		entries[i].Prev = entries[i-1].Hash
		entries[i].Hash = ledger.Hash(entries[i].Prev, entries[i])
	}
	fmt.Println(verify().Broken)
	// Output:
	// 5 entries, 2 checkpoints, last 5, broken: <nil>
	// ledger broken at seq 4: checkpoint-mismatch: the checkpoint signed dbd8d729a229…, the entry's Hash is 65a26edc9ad2…: an entry from 3 to 4 was rewritten and the hashes after it recomputed
}

// An export, verified offline with the public key alone.
func ExampleVerifyExport() {
	signer := ledger.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	entries, cps := appendEntries(signer, 5)
	all := func(yield func(*posture.Event, error) bool) {
		for _, e := range entries {
			if !yield(e, nil) {
				return
			}
		}
	}

	var file bytes.Buffer
	h := ledger.ExportHeader{From: 1, To: 5, Keys: []ed25519.PublicKey{signer.PublicKey()}}
	if err := ledger.Export(&file, h, all, cps); err != nil {
		panic(err)
	}

	r, err := ledger.VerifyExport(&file, signer.PublicKey())
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d entries, %d checkpoints, chain only: %v, broken: %v\n", r.Entries, r.Checkpoints, r.ChainOnly, r.Broken)
	// Output:
	// 5 entries, 2 checkpoints, chain only: false, broken: <nil>
}

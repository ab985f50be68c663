package ledger

import "testing"

func BenchmarkHash(b *testing.B) {
	e := testEntry(1) // an update: Before and After
	prev := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		Hash(prev, e)
	}
}

// BenchmarkVerify verifies a ledger of 10,000 entries, an exemption
// document before and after each, checkpointed every 1,000 as the store
// might. The floor to keep: 100,000 entries/s on one slow core.
func BenchmarkVerify(b *testing.B) {
	const n = 10000
	c := newChain(n, 1000)
	pub := c.signer.PublicKey()
	b.ReportAllocs()
	for b.Loop() {
		v := NewVerifier(pub)
		for _, cp := range c.cps {
			v.Checkpoint(cp)
		}
		for _, e := range c.entries {
			v.Entry(e)
		}
		if r := v.Result(); r.Broken != nil || r.Entries != n {
			b.Fatalf("%+v", r)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "entries/s")
}

// TestAllocs keeps the hot paths allocation-light: Hash allocates its
// encoding and its result; the verifier nothing per entry.
func TestAllocs(t *testing.T) {
	e := testEntry(1)
	prev := make([]byte, 32)
	if n := testing.AllocsPerRun(100, func() { Hash(prev, e) }); n > 2 {
		t.Errorf("Hash: %v allocations, want 2", n)
	}
	c := newChain(300, 1000)
	v := NewVerifier(c.signer.PublicKey())
	v.Entry(c.entries[0])
	i := 1
	if n := testing.AllocsPerRun(200, func() { v.Entry(c.entries[i]); i++ }); n != 0 {
		t.Errorf("Verifier.Entry: %v allocations per entry, want 0", n)
	}
	if r := v.Result(); r.Broken != nil {
		t.Fatal(r.Broken)
	}
}

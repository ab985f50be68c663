package policy

import (
	"testing"
)

func TestBuiltinsLoad(t *testing.T) {
	reg, err := Builtins()
	if err != nil {
		t.Fatalf("Builtins: %v", err)
	}
	if got := len(reg.Definitions()); got != 412 {
		t.Errorf("definitions = %d, want 412", got)
	}
	v1, ok := reg.SetDefinition(MCSBv1ID)
	if !ok {
		t.Fatal("MCSB v1 missing")
	}
	if len(v1.References) != 223 {
		t.Errorf("MCSB v1 references = %d, want 223", len(v1.References))
	}
	if _, ok := reg.SetDefinition(MCSBv2ID); !ok {
		t.Fatal("MCSB v2 missing")
	}
	ca, err := Compile(&Assignment{PolicyDefinitionID: MCSBv1ID}, reg)
	if err != nil {
		t.Fatalf("compile MCSB v1: %v", err)
	}
	if len(ca.References) != 223 {
		t.Errorf("compiled references = %d", len(ca.References))
	}
	ca2, err := Compile(&Assignment{PolicyDefinitionID: MCSBv2ID}, reg)
	if err != nil {
		t.Fatalf("compile MCSB v2: %v", err)
	}
	if len(ca2.References) != 414 {
		t.Errorf("compiled v2 references = %d, want 414", len(ca2.References))
	}
}

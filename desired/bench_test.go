package desired_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/posture/posture/desired"
)

// bigYAML is a posture file of n exemptions of the usual size.
func bigYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("defaults:\n  owner: secops@contoso.com\nexemptions:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: exemption-%d
    displayName: Exemption number %d
    description: Generated for the benchmark.
    category: Waiver
    scope: /subscriptions/00000000-0000-0000-0000-%012d/resourceGroups/rg-%d
    assignment: /providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn
    policyDefinitionReferenceIds: [ref-a, ref-b]
    expiresOn: 2027-01-31
    ticket: CHG-%d
    metadata: {reason: generated, n: %d}
`, i, i, i%1000, i, i, i)
	}
	return []byte(b.String())
}

// BenchmarkParse10k parses a 10,000-entry posture YAML file.
func BenchmarkParse10k(b *testing.B) {
	data := bigYAML(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		entries, probs := desired.Parse("big.yaml", data, now)
		if len(probs) > 0 || len(entries) != 10_000 {
			b.Fatalf("%d entries, problems: %v", len(entries), probs.Err())
		}
	}
}

// BenchmarkYAMLDecode10k is the YAML parser alone on the same file: the
// floor under BenchmarkParse10k.
func BenchmarkYAMLDecode10k(b *testing.B) {
	data := bigYAML(10_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
	}
}

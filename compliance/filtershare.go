package compliance

import (
	"fmt"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/match"
)

// DefaultFilterWarnShare is the share of the resources an exemption could
// cover above which its resource filter is called too broad.
const DefaultFilterWarnShare = 0.5

// filterShare counts, for an exemption with a resource filter, the
// resources it could cover without the filter and those the filter keeps:
// a filter meant to pick a few ephemeral resources that keeps most of a
// scope is a mistake worth a warning (peers.md asks 18, 21).
type filterShare struct{ total, matched int }

// count looks at one state row: a resource counts when the exemption's
// references and selectors cover one of its states.
func (f *filterShare) count(x *exemption.Exemption, row *posture.ResourceStates, r *match.Resource) {
	if x.ResourceFilter == nil {
		return
	}
	for _, st := range row.States {
		if st.State != posture.StateDisabled && x.Covers(st.ReferenceID, row.ResourceType, r.Location) {
			f.total++
			if x.ResourceFilter.Match(r) {
				f.matched++
			}
			return
		}
	}
}

// warnings are the filter's lint findings and, when it keeps more than
// limit of the resources (a share; 0 means the default), an over-breadth
// warning.
func (f *filterShare) warnings(x *exemption.Exemption, limit float64) []string {
	if x.ResourceFilter == nil {
		return nil
	}
	if limit <= 0 {
		limit = DefaultFilterWarnShare
	}
	var out []string
	for _, l := range x.ResourceFilter.Lint() {
		out = append(out, "resourceFilter: "+l)
	}
	if f.total > 0 && float64(f.matched) > limit*float64(f.total) {
		out = append(out, fmt.Sprintf("resourceFilter matches %d of the %d resources the exemption could cover (%.0f%%, more than %.0f%%): is it narrower than the scope, as intended?",
			f.matched, f.total, 100*float64(f.matched)/float64(f.total), 100*limit))
	}
	return out
}

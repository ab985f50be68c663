package defender

import "testing"

// TestWorkedExamples reproduces every worked example of the secure score
// documentation and API examples (shared/docs/azure-api-spec.md §3.2).
func TestWorkedExamples(t *testing.T) {
	// Docs: a control worth 6 points with 4 healthy resources of 78 in
	// total: 6 / 78 x 4 = 0.31.
	if c := ScoreControl(6, 4, 74, 0); c.Current != 0.31 {
		t.Errorf("6 points, 4 of 78 healthy: %v, want 0.31", c.Current)
	}
	// API example: max 1 with 1 healthy, 4 unhealthy -> 0.2, weight 5.
	if c := ScoreControl(1, 1, 4, 0); c.Current != 0.2 || c.Percentage != 0.2 || c.Weight() != 5 {
		t.Errorf("max 1, 1/4: %+v weight %d", c, c.Weight())
	}
	// API example: max 4 with 1/1 -> 2 (0.5), weight 2.
	if c := ScoreControl(4, 1, 1, 0); c.Current != 2 || c.Percentage != 0.5 || c.Weight() != 2 {
		t.Errorf("max 4, 1/1: %+v", c)
	}
	// API example: max 10 with 1/0 -> 10, weight 1... the example's weight
	// 7 is 7 healthy + 0 unhealthy: all healthy gives all points.
	if c := ScoreControl(10, 7, 0, 0); c.Current != 10 || c.Percentage != 1 || c.Weight() != 7 {
		t.Errorf("max 10, 7/0: %+v", c)
	}
	// API example: DDoS, 0 healthy / 0 unhealthy / 1 not applicable, max 2:
	// drops out with max 0 and weight 0.
	if c := ScoreControl(2, 0, 0, 1); c.Max != 0 || c.Current != 0 || c.Weight() != 0 || c.NotApplicable != 1 {
		t.Errorf("DDoS 0/0/1: %+v", c)
	}
	// Potential increase = max / (healthy + unhealthy) x unhealthy.
	if c := ScoreControl(6, 4, 74, 0); c.PotentialIncrease != 5.69 {
		t.Errorf("potential increase %v, want 5.69", c.PotentialIncrease)
	}
	// Subscription: max 39, current 23.53 -> 0.6033.
	s := ScoreSubscription([]ControlScore{{Max: 39, Current: 23.53}})
	if s.Max != 39 || s.Percentage != 0.6033 {
		t.Errorf("subscription: %+v, want 0.6033", s)
	}
	// Not applicable resources (exempted ones) are in neither term: exempting
	// the only unhealthy resource gives all points.
	if c := ScoreControl(4, 3, 0, 1); c.Current != 4 {
		t.Errorf("after an exemption: %+v", c)
	}
}

// TestGroupIsWeighted: several subscriptions are averaged by weight (their
// healthy + unhealthy resources), not plainly.
func TestGroupIsWeighted(t *testing.T) {
	a := Score{Max: 10, Current: 10, Percentage: 1, Weight: 90}
	b := Score{Max: 10, Current: 0, Percentage: 0, Weight: 10}
	g := ScoreGroup([]Score{a, b})
	if g.Percentage != 0.9 || g.Max != 20 || g.Current != 18 || g.Weight != 100 {
		t.Errorf("group: %+v, want 0.9 (a plain average would be 0.5)", g)
	}
	if g := ScoreGroup(nil); g.Percentage != 0 || g.Max != 0 {
		t.Errorf("empty group: %+v", g)
	}
}

package defender

import "math"

// ControlScore is one security control's part of a secure score.
type ControlScore struct {
	Max                                    int
	Healthy, Unhealthy, NotApplicable      int // resources
	Current, Percentage, PotentialIncrease float64
}

// Weight is the control's weight in the API: its healthy and unhealthy
// resources (API examples: 1 healthy + 4 unhealthy -> 5; 0/0 -> 0).
func (c ControlScore) Weight() int { return c.Healthy + c.Unhealthy }

// ScoreControl computes a control's points the way the classic secure
// score does (secure-score-security-controls, "How your secure score is
// calculated"): current = max / (healthy + unhealthy) x healthy. Resources
// that are not applicable (exempted ones included) count in neither term;
// a control without healthy or unhealthy resources scores 0 of 0.
func ScoreControl(max, healthy, unhealthy, notApplicable int) ControlScore {
	c := ControlScore{Max: max, Healthy: healthy, Unhealthy: unhealthy, NotApplicable: notApplicable}
	total := healthy + unhealthy
	if total == 0 {
		c.Max = 0 // drops out: the API reports max 0 and weight 0
		return c
	}
	per := float64(max) / float64(total)
	c.Current = round2(per * float64(healthy))
	c.Percentage = round4(c.Current / float64(max))
	if max == 0 {
		c.Percentage = 0
	}
	c.PotentialIncrease = round2(per * float64(unhealthy))
	return c
}

// Score is a subscription's or management group's secure score.
type Score struct {
	Max        int
	Current    float64
	Percentage float64 // 0..1, four decimals
	Weight     int     // healthy + unhealthy resources over the controls
}

// ScoreSubscription sums controls: percentage = sum of current / sum of max.
func ScoreSubscription(controls []ControlScore) Score {
	var s Score
	var current float64
	for _, c := range controls {
		s.Max += c.Max
		current += c.Current
		s.Weight += c.Weight()
	}
	s.Current = round2(current)
	if s.Max > 0 {
		s.Percentage = round4(current / float64(s.Max))
	}
	return s
}

// ScoreGroup aggregates subscriptions as Defender does for several
// subscriptions: their percentages averaged with weights linear in their
// healthy + unhealthy resources, not a plain average.
func ScoreGroup(subs []Score) Score {
	var s Score
	var weighted float64
	for _, sub := range subs {
		s.Max += sub.Max
		s.Weight += sub.Weight
		weighted += sub.Percentage * float64(sub.Weight)
	}
	if s.Weight > 0 {
		s.Percentage = round4(weighted / float64(s.Weight))
	}
	s.Current = round2(s.Percentage * float64(s.Max))
	return s
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Charts are inline SVG drawn on the server: they need no script, and the
// CSP allows them. Each has a title for screen readers and the page shows
// the numbers in a table beside it.

// palette holds colours distinguishable in print and by most colour-blind
// readers (Okabe–Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"}

// point is one point of a line chart.
type point struct {
	T time.Time
	V float64 // 0..100
}

// lineChart draws percentages over time.
func lineChart(title string, pts []point) template.HTML {
	const w, h, left, bottom, top, right = 640.0, 200.0, 40.0, 24.0, 10.0, 10.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, w, h, attr(title), attr(title))
	pw, ph := w-left-right, h-top-bottom
	for _, y := range []float64{0, 25, 50, 75, 100} {
		py := top + ph - y/100*ph
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e4e7eb"/><text x="%g" y="%.1f" text-anchor="end">%g%%</text>`, left, py, w-right, py, left-6, py+4, y)
	}
	if len(pts) == 0 {
		b.WriteString(`<text x="320" y="100" text-anchor="middle">No history yet</text></svg>`)
		return template.HTML(b.String())
	}
	t0, t1 := pts[0].T, pts[len(pts)-1].T
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return left + pw
		}
		return left + t.Sub(t0).Seconds()/span*pw
	}
	y := func(v float64) float64 { return top + ph - math.Max(0, math.Min(100, v))/100*ph }
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f,%.1f", cmd, x(p.T), y(p.V))
	}
	if len(pts) == 1 {
		fmt.Fprintf(&path, "M%.1f,%.1fL%.1f,%.1f", left, y(pts[0].V), left+pw, y(pts[0].V))
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, path.String(), palette[0])
	last := pts[len(pts)-1]
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, x(last.T), y(last.V), palette[0])
	fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text><text x="%g" y="%g" text-anchor="end">%s</text>`,
		left, h-6, t0.UTC().Format("2006-01-02 15:04"), w-right, h-6, t1.UTC().Format("2006-01-02 15:04"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart draws one bar per label.
func barChart(title string, labels []string, values []float64) template.HTML {
	n := len(labels)
	const w, left, right, barH, gap = 640.0, 170.0, 60.0, 18.0, 6.0
	h := float64(n)*(barH+gap) + gap
	maxV := 0.0
	for _, v := range values {
		maxV = math.Max(maxV, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-label="%s"><title>%s</title>`, w, h, attr(title), attr(title))
	for i, l := range labels {
		yy := gap + float64(i)*(barH+gap)
		bw := 0.0
		if maxV > 0 {
			bw = math.Max(0, values[i]) / maxV * (w - left - right)
		}
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, left-6, yy+barH-5, attr(truncate(l, 28)))
		fmt.Fprintf(&b, `<rect x="%g" y="%.1f" width="%.1f" height="%g" fill="%s"/>`, left, yy, bw, barH, palette[i%len(palette)])
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, left+bw+4, yy+barH-5, formatNumber(values[i]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func attr(s string) string { return template.HTMLEscapeString(s) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}

// pieChart draws the share of each label, with a legend entry for every
// slice (the query explorer draws up to twenty).
func pieChart(title string, labels []string, values []float64) template.HTML {
	const r, cx, cy, row = 90.0, 100.0, 100.0, 18.0
	h := math.Max(200, 16+float64(len(labels))*row)
	total := 0.0
	for _, v := range values {
		total += math.Max(0, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 460 %g" role="img" aria-label="%s"><title>%s</title>`, h, attr(title), attr(title))
	if total == 0 {
		b.WriteString(`<text x="100" y="100" text-anchor="middle">No data</text></svg>`)
		return template.HTML(b.String())
	}
	a := -math.Pi / 2
	for i, v := range values {
		frac := math.Max(0, v) / total
		col := palette[i%len(palette)]
		if frac >= 0.9999 {
			fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="%g" fill="%s"/>`, cx, cy, r, col)
		} else if frac > 0 {
			a2 := a + frac*2*math.Pi
			large := 0
			if frac > 0.5 {
				large = 1
			}
			fmt.Fprintf(&b, `<path d="M%g,%g L%.2f,%.2f A%g,%g 0 %d 1 %.2f,%.2f Z" fill="%s" stroke="#fff"/>`,
				cx, cy, cx+r*math.Cos(a), cy+r*math.Sin(a), r, r, large, cx+r*math.Cos(a2), cy+r*math.Sin(a2), col)
			a = a2
		}
		yy := 16.0 + float64(i)*row
		fmt.Fprintf(&b, `<rect x="215" y="%g" width="11" height="11" fill="%s"/><text x="232" y="%g">%s (%s)</text>`, yy-10, col, yy, attr(truncate(labels[i], 30)), formatNumber(v))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

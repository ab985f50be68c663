package kql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Datetime and timespan helpers. Datetimes are ticks (100 ns) since
// 0001-01-01 UTC; timespans are ticks.

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func ticksFromTime(t time.Time) int64 {
	t = t.UTC()
	secs := t.Unix()
	return unixEpochTicks + secs*ticksPerSecond + int64(t.Nanosecond())/100
}

func timeFromTicks(ticks int64) time.Time {
	rel := ticks - unixEpochTicks
	secs := floorDiv(rel, ticksPerSecond)
	rem := rel - secs*ticksPerSecond
	return time.Unix(secs, rem*100).UTC()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

var datetimeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006-01",
	"2006",
	time.RFC1123,
	time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 MST",
	"Mon, 02 Jan 06 15:04:05 MST",
	time.RFC850,
	"01/02/2006 15:04:05",
	"01/02/2006",
	"2006/01/02 15:04:05",
	"2006/01/02",
	"20060102",
}

// parseDatetime parses the text of a datetime literal or todatetime()
// argument. It accepts ISO 8601 (with up to 7 fractional digits, 'Z' or an
// offset), RFC 822/850/1123 and a few common numeric forms.
func parseDatetime(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return 0, false
	}
	// Go's layouts want "Z" separately; accept a trailing "z" too.
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return ticksFromTime(t), true
		}
	}
	return 0, false
}

// formatDatetimeISO renders ticks as ISO 8601 UTC with a 'Z' and at most 7
// fractional digits, trailing zeros removed (Kusto's JSON form).
func formatDatetimeISO(ticks int64) string {
	t := timeFromTicks(ticks)
	frac := ticks % ticksPerSecond
	if frac < 0 {
		frac += ticksPerSecond
	}
	base := t.Format("2006-01-02T15:04:05")
	if frac == 0 {
		return base + "Z"
	}
	f := fmt.Sprintf("%07d", frac)
	f = strings.TrimRight(f, "0")
	return base + "." + f + "Z"
}

// formatTimespan renders Kusto's [-][d.]hh:mm:ss[.fffffff].
func formatTimespan(t int64) string {
	var b strings.Builder
	if t < 0 {
		b.WriteByte('-')
		if t == math.MinInt64 {
			t = math.MaxInt64
		} else {
			t = -t
		}
	}
	days := t / ticksPerDay
	t -= days * ticksPerDay
	h := t / ticksPerHour
	t -= h * ticksPerHour
	m := t / ticksPerMinute
	t -= m * ticksPerMinute
	s := t / ticksPerSecond
	frac := t - s*ticksPerSecond
	if days > 0 {
		fmt.Fprintf(&b, "%d.", days)
	}
	fmt.Fprintf(&b, "%02d:%02d:%02d", h, m, s)
	if frac > 0 {
		fmt.Fprintf(&b, ".%07d", frac)
	}
	return b.String()
}

// parseTimespanLiteral parses "2d", "1.5h", "-30m" (number + unit).
func parseTimespanLiteral(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, false
	}
	unit, ok := timespanUnits[strings.ToLower(s[i:])]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, false
	}
	v := f * float64(unit)
	if math.IsInf(v, 0) || math.Abs(v) > 9.2e18 {
		return 0, false
	}
	t := int64(math.Round(v))
	if neg {
		t = -t
	}
	return t, true
}

// parseTimespan parses a timespan literal or the [-][d.]hh:mm[:ss[.f]] form.
func parseTimespan(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if t, ok := parseTimespanLiteral(s); ok {
		return t, true
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s+":", ':') {
		d, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || d > 10675199 {
			return 0, false
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		if len(parts) == 1 && days == 0 {
			// A bare number of days.
			d, err := strconv.ParseInt(parts[0], 10, 64)
			if err != nil || d > 10675199 || d < 0 {
				return 0, false
			}
			t := d * ticksPerDay
			if neg {
				t = -t
			}
			return t, true
		}
		return 0, false
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	var secTicks int64
	if len(parts) == 3 {
		f, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || f < 0 || f >= 60 {
			return 0, false
		}
		secTicks = int64(math.Round(f * float64(ticksPerSecond)))
	}
	t := days*ticksPerDay + h*ticksPerHour + m*ticksPerMinute + secTicks
	if neg {
		t = -t
	}
	return t, true
}

// formatDatetime implements format_datetime with .NET-style specifiers.
func formatDatetime(ticks int64, format string) string {
	t := timeFromTicks(ticks)
	frac := ticks % ticksPerSecond
	if frac < 0 {
		frac += ticksPerSecond
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		j := i
		for j < len(format) && format[j] == c {
			j++
		}
		n := j - i
		switch c {
		case 'y':
			if n <= 2 {
				fmt.Fprintf(&b, "%02d", t.Year()%100)
			} else {
				fmt.Fprintf(&b, "%0*d", n, t.Year())
			}
		case 'M':
			if n == 1 {
				fmt.Fprintf(&b, "%d", int(t.Month()))
			} else {
				fmt.Fprintf(&b, "%02d", int(t.Month()))
			}
		case 'd':
			if n == 1 {
				fmt.Fprintf(&b, "%d", t.Day())
			} else {
				fmt.Fprintf(&b, "%02d", t.Day())
			}
		case 'H':
			if n == 1 {
				fmt.Fprintf(&b, "%d", t.Hour())
			} else {
				fmt.Fprintf(&b, "%02d", t.Hour())
			}
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			if n == 1 {
				fmt.Fprintf(&b, "%d", h)
			} else {
				fmt.Fprintf(&b, "%02d", h)
			}
		case 'm':
			if n == 1 {
				fmt.Fprintf(&b, "%d", t.Minute())
			} else {
				fmt.Fprintf(&b, "%02d", t.Minute())
			}
		case 's':
			if n == 1 {
				fmt.Fprintf(&b, "%d", t.Second())
			} else {
				fmt.Fprintf(&b, "%02d", t.Second())
			}
		case 'f', 'F':
			if n > 7 {
				n = 7
			}
			digits := fmt.Sprintf("%07d", frac)[:n]
			if c == 'F' {
				digits = strings.TrimRight(digits, "0")
			}
			b.WriteString(digits)
		case 't':
			if t.Hour() < 12 {
				b.WriteString("AM"[:min(n, 2)])
			} else {
				b.WriteString("PM"[:min(n, 2)])
			}
		default:
			b.WriteString(format[i:j])
		}
		i = j
	}
	return b.String()
}

// datetimePart truncation and arithmetic helpers.

func civil(ticks int64) (y int, m time.Month, d int) { return timeFromTicks(ticks).Date() }

func startOfDay(t int64) int64 { return floorDiv(t, ticksPerDay) * ticksPerDay }

func startOfMonth(t int64) int64 {
	y, m, _ := civil(t)
	return ticksFromTime(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC))
}

func startOfYear(t int64) int64 {
	y, _, _ := civil(t)
	return ticksFromTime(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))
}

// startOfWeek returns the preceding Sunday at midnight (Kusto weeks start on
// Sunday). 0001-01-01 was a Monday.
func startOfWeek(t int64) int64 {
	day := floorDiv(t, ticksPerDay)
	dow := (day + 1) % 7 // 0 = Sunday
	if dow < 0 {
		dow += 7
	}
	return (day - dow) * ticksPerDay
}

// addMonths adds n months, clamping the day to the target month's length as
// Kusto's datetime_add does (Jan 31 + 1 month = Feb 28/29).
func addMonths(t int64, n int64) (int64, bool) {
	tt := timeFromTicks(t)
	y, m, d := tt.Date()
	total := int64(y)*12 + int64(m-1) + n
	ny, nm := total/12, time.Month(total%12+1)
	if ny < 1 || ny > 9999 {
		return 0, false
	}
	last := time.Date(int(ny), nm+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	tod := t - startOfDay(t)
	return ticksFromTime(time.Date(int(ny), nm, d, 0, 0, 0, 0, time.UTC)) + tod, true
}

// partTicks maps a datetime_add/datetime_diff period name to its fixed
// length in ticks; months and years return 0 (calendar arithmetic).
func partTicks(part string) (int64, bool) {
	switch strings.ToLower(part) {
	case "week":
		return 7 * ticksPerDay, true
	case "day":
		return ticksPerDay, true
	case "hour":
		return ticksPerHour, true
	case "minute":
		return ticksPerMinute, true
	case "second":
		return ticksPerSecond, true
	case "millisecond":
		return ticksPerMilli, true
	case "microsecond":
		return 10, true
	case "nanosecond":
		return 1, true // resolution is one tick
	case "month", "quarter", "year":
		return 0, true
	}
	return 0, false
}

// datetimeDiff counts period boundaries between b and a (a - b).
func datetimeDiff(part string, a, b int64) (int64, bool) {
	switch strings.ToLower(part) {
	case "year":
		ya, _, _ := civil(a)
		yb, _, _ := civil(b)
		return int64(ya - yb), true
	case "quarter":
		ya, ma, _ := civil(a)
		yb, mb, _ := civil(b)
		return int64((ya*4 + (int(ma)-1)/3) - (yb*4 + (int(mb)-1)/3)), true
	case "month":
		ya, ma, _ := civil(a)
		yb, mb, _ := civil(b)
		return int64((ya*12 + int(ma)) - (yb*12 + int(mb))), true
	case "week":
		return floorDiv(startOfWeek(a)-startOfWeek(b), 7*ticksPerDay), true
	case "nanosecond":
		return (a - b) * 100, true
	}
	unit, ok := partTicks(part)
	if !ok || unit == 0 {
		return 0, false
	}
	return floorDiv(a, unit) - floorDiv(b, unit), true
}

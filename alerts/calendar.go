package alerts

import "time"

// The business days of the late-report rule: Monday to Friday, less the U.S.
// federal holidays as federal offices observe them. The eleven holidays of
// 5 U.S.C. 6103(a):
//
//	New Year's Day            1 January
//	Martin Luther King Jr.    third Monday of January
//	Washington's Birthday     third Monday of February
//	Memorial Day              last Monday of May
//	Juneteenth                19 June (from 2021)
//	Independence Day          4 July
//	Labor Day                 first Monday of September
//	Columbus Day              second Monday of October
//	Veterans Day              11 November
//	Thanksgiving Day          fourth Thursday of November
//	Christmas Day             25 December
//
// A holiday of fixed date that falls on a Saturday is observed the Friday
// before, one on a Sunday the Monday after (5 U.S.C. 6103(b), Executive
// Order 11582). So New Year's Day 2028, a Saturday, is observed on Friday
// 31 December 2027. Inauguration Day, a holiday only in the Washington area,
// is not counted.
//
// Days are UTC calendar days: a port's local day would need its time zone,
// which the reference data (corridors.Port) does not carry yet.

// IsBusinessDay reports whether the UTC date of t is a business day.
func IsBusinessDay(t time.Time) bool {
	t = t.UTC()
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !IsFederalHoliday(t)
}

// IsFederalHoliday reports whether the UTC date of t is a U.S. federal
// holiday as observed (see above).
func IsFederalHoliday(t time.Time) bool {
	t = t.UTC()
	y, m, d := t.Date()
	// A date can observe its own year's holidays, or next year's New Year's
	// Day (observed on 31 December when 1 January is a Saturday).
	for _, h := range federalHolidays(y) {
		if h.m == m && h.d == d {
			return true
		}
	}
	if m == time.December && d == 31 {
		return time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC).Weekday() == time.Saturday
	}
	return false
}

type monthDay struct {
	m time.Month
	d int
}

// federalHolidays returns year y's holidays on the days they are observed.
// New Year's Day observed in the year before is not among them.
func federalHolidays(y int) []monthDay {
	fixed := func(m time.Month, d int) (monthDay, bool) {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		switch t.Weekday() {
		case time.Saturday:
			t = t.AddDate(0, 0, -1)
		case time.Sunday:
			t = t.AddDate(0, 0, 1)
		}
		if t.Year() != y {
			return monthDay{}, false
		}
		return monthDay{t.Month(), t.Day()}, true
	}
	// nth returns the n-th weekday wd of month m (n < 0: the last).
	nth := func(m time.Month, wd time.Weekday, n int) monthDay {
		if n < 0 {
			t := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC) // the month's last day
			for t.Weekday() != wd {
				t = t.AddDate(0, 0, -1)
			}
			return monthDay{m, t.Day()}
		}
		t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		for t.Weekday() != wd {
			t = t.AddDate(0, 0, 1)
		}
		return monthDay{m, t.Day() + 7*(n-1)}
	}
	out := make([]monthDay, 0, 11)
	for _, f := range []monthDay{{time.January, 1}, {time.July, 4}, {time.November, 11}, {time.December, 25}} {
		if h, ok := fixed(f.m, f.d); ok {
			out = append(out, h)
		}
	}
	if y >= 2021 {
		if h, ok := fixed(time.June, 19); ok {
			out = append(out, h)
		}
	}
	return append(out,
		nth(time.January, time.Monday, 3), nth(time.February, time.Monday, 3), nth(time.May, time.Monday, -1),
		nth(time.September, time.Monday, 1), nth(time.October, time.Monday, 2), nth(time.November, time.Thursday, 4))
}

// ReportDue is when an arrival at arrived becomes late to report with n
// business days allowed: the first instant after the n-th business day that
// follows the day of arrival (midnight UTC starting the next day). A report
// before it is in time; one at or after it is late.
func ReportDue(arrived time.Time, n int) time.Time {
	y, m, d := arrived.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if IsBusinessDay(day) {
			n--
		}
	}
	return day.AddDate(0, 0, 1)
}

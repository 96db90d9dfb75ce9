package report

import (
	"fmt"
	"time"
)

// Period is a report period: a calendar month in UTC, [Start, End).
// Volumes belong to the period their crossing time falls in (see
// Movement).
type Period struct {
	Start, End time.Time
}

// ParsePeriod reads a month as YYYY-MM ("2026-10").
func ParsePeriod(s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, fmt.Errorf("report: period %q: want a month as YYYY-MM, such as 2026-10", s)
	}
	return Month(t), nil
}

// Month is the calendar month (UTC) that t falls in.
func Month(t time.Time) Period {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{Start: start, End: start.AddDate(0, 1, 0)}
}

// String is the period as YYYY-MM: the form in file names.
func (p Period) String() string { return p.Start.Format("2006-01") }

// YYMM is the period as EIA-814 writes it.
func (p Period) YYMM() string { return p.Start.Format("0601") }

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Next is the following month.
func (p Period) Next() Period { return Month(p.End) }

// Days lists the period's UTC days, as YYYY-MM-DD.
func (p Period) Days() []string {
	var out []string
	for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// Covering lists the months from the one holding from to the one holding
// to, in order.
func Covering(from, to time.Time) []Period {
	var out []Period
	if to.Before(from) {
		return nil
	}
	for p := Month(from); !p.Start.After(to); p = p.Next() {
		out = append(out, p)
	}
	return out
}

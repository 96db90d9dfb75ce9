package alerts_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// The observed federal holidays of a few years, checked against OPM's
// published calendars.
func TestFederalHolidays(t *testing.T) {
	for _, c := range []struct {
		date    string
		holiday bool
	}{
		// 2026 (OPM): Jan 1, Jan 19, Feb 16, May 25, Jun 19, Jul 3 (4 July is a Saturday), Sep 7, Oct 12, Nov 11, Nov 26, Dec 25.
		{"2026-01-01", true}, {"2026-01-19", true}, {"2026-02-16", true}, {"2026-05-25", true}, {"2026-06-19", true},
		{"2026-07-03", true}, {"2026-07-04", false}, {"2026-09-07", true}, {"2026-10-12", true}, {"2026-11-11", true},
		{"2026-11-26", true}, {"2026-12-25", true},
		{"2026-10-13", false}, {"2026-11-27", false}, {"2026-12-24", false},
		// 2027: Juneteenth on a Saturday (observed Fri 18 June), Christmas on a Saturday (Fri 24 December),
		// and New Year's Day 2028 on a Saturday, observed on Friday 31 December 2027.
		{"2027-06-18", true}, {"2027-06-19", false}, {"2027-12-24", true}, {"2027-12-31", true}, {"2028-01-01", false},
		// 2028: 4 July is a Tuesday; Veterans Day on a Saturday (Fri 10 November).
		{"2028-07-04", true}, {"2028-11-10", true}, {"2028-11-11", false},
		// A Sunday holiday moves to the Monday: 4 July 2027 → Monday 5 July.
		{"2027-07-05", true}, {"2027-07-04", false},
		// Juneteenth only from 2021.
		{"2020-06-19", false}, {"2021-06-18", true},
	} {
		if got := alerts.IsFederalHoliday(day(c.date)); got != c.holiday {
			t.Errorf("%s: holiday %v, want %v", c.date, got, c.holiday)
		}
	}
}

func TestReportDue(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return v
	}
	for _, c := range []struct {
		arrived, due string
	}{
		{"2026-10-06T15:00:00Z", "2026-10-09T00:00:00Z"}, // Tuesday: Wed, Thu
		{"2026-10-08T23:59:00Z", "2026-10-14T00:00:00Z"}, // Thursday: Fri, (weekend), (Columbus Day), Tue
		{"2026-10-10T08:00:00Z", "2026-10-15T00:00:00Z"}, // Saturday: (Sun), (Columbus Day), Tue, Wed
		{"2026-11-25T10:00:00Z", "2026-12-01T00:00:00Z"}, // Wednesday before Thanksgiving: (Thu), Fri, Mon
		{"2027-12-30T10:00:00Z", "2028-01-05T00:00:00Z"}, // Thursday: (31 Dec, New Year observed), (weekend), Mon 3, Tue 4
	} {
		if got := alerts.ReportDue(at(c.arrived), 2); !got.Equal(at(c.due)) {
			t.Errorf("arrived %s: late from %s, want %s", c.arrived, got.Format(time.RFC3339), c.due)
		}
	}
}

package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

func TestReplayRule(t *testing.T) {
	p := along(t, 100, 0)
	reading := func(n float64, seq uint64, lat float64) *event.Envelope {
		return telemetry(n, "GPS-1", seq, &event.Position{Lat: lat, Lon: p.Lon, SpeedKmh: 80, HeadingDeg: 90})
	}
	first := reading(10, 5, p.Lat)
	otherTime := reading(10.0001, 5, p.Lat) // the same number, another observed time
	otherTime.ID = first.ID
	otherContent := reading(10, 5, p.Lat+0.01) // the same number and time, another fix
	otherContent.ID = first.ID
	ahead := func(by time.Duration) *event.Envelope {
		e := reading(20, 6, p.Lat)
		e.ReceivedTime = e.Time.Add(-by)
		return e
	}
	limit := env(t).Limits.FutureClock
	var many []step
	for i := range alerts.MaxSeqs {
		many = append(many, ev(reading(11+float64(i), uint64(6+i), p.Lat)))
	}
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"a redelivery", []step{ev(first), ev(first)}, nil},
		{"a number reused with another time", []step{ev(first), ev(otherTime)}, []string{"open"}},
		{"a number reused with another fix", []step{ev(first), ev(otherContent)}, []string{"open"}},
		{"a number reused long after is taken for a redelivery", append(append([]step{ev(first)}, many...), ev(otherTime)), nil},
		{"a clock ahead by the limit", []step{ev(first), ev(ahead(limit))}, nil},
		{"a clock just past the limit", []step{ev(first), ev(ahead(limit + time.Nanosecond))}, []string{"open"}},
		{"both, and it stays open", []step{ev(first), ev(otherTime), ev(ahead(2 * time.Hour)), ev(reading(30, 7, p.Lat))},
			[]string{"open", "update"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleReplay, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleReplay, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.last(t, alerts.RuleReplay)
			if a.Evidence.Device != "GPS-1" || len(a.Evidence.EventIDs) == 0 {
				t.Fatalf("alert %+v", a)
			}
			if strings.Contains(a.Message, "ahead") && a.Evidence.Values["clock_ahead_minutes"] <= a.Evidence.Values["clock_ahead_minutes_limit"] {
				t.Fatalf("values %v", a.Evidence.Values)
			}
			if strings.Contains(a.Message, "reused") && a.Evidence.Values["replayed_seq"] != 5 {
				t.Fatalf("values %v", a.Evidence.Values)
			}
		})
	}
}

// A replay is dated when it was received: its own time is the one it
// claims, an old one.
func TestReplayDatedAtReceipt(t *testing.T) {
	p := along(t, 100, 0)
	first := telemetry(10, "GPS-1", 5, &event.Position{Lat: p.Lat, Lon: p.Lon, SpeedKmh: 80})
	again := telemetry(10.5, "GPS-1", 5, &event.Position{Lat: p.Lat, Lon: p.Lon, SpeedKmh: 80})
	again.ReceivedTime = mins(40)
	o := steps(t, only(t, alerts.RuleReplay, nil), ev(first), ev(again))
	if a := o.last(t, alerts.RuleReplay); !a.OpenedAt.Equal(mins(40)) {
		t.Fatalf("opened %v, want the receipt %v", a.OpenedAt, mins(40))
	}
}

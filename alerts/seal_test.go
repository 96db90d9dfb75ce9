package alerts_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

var t0 = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

// run applies events to a fresh shipment and its watch, as the processor
// does, and returns every transition.
func run(t *testing.T, env *alerts.Env, events ...*event.Envelope) (*state.Shipment, *alerts.Watch, []alerts.Transition) {
	t.Helper()
	sh, w := state.New("S1"), alerts.NewWatch("S1")
	var out []alerts.Transition
	for _, e := range events {
		outcome, err := state.Apply(sh, e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w.Observe(env, sh, e, outcome == state.Applied)...)
	}
	return sh, w, out
}

func env(t *testing.T) *alerts.Env {
	t.Helper()
	e, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// at builds an event of shipment S1, n minutes after t0.
func at(n int, id string, p event.Payload) *event.Envelope {
	return &event.Envelope{ID: id, Type: p.EventType(), Subject: "S1", Carrier: "PRTK", Time: t0.Add(time.Duration(n) * time.Minute), Data: p}
}

func seal(n int, st string) *event.Envelope {
	e := at(n, "seal-"+itoa(n), &event.SealState{Seal: "S-77", State: st})
	e.Device, e.Sequence = "SEAL-1", uint64(n+1)
	return e
}

func itoa(n int) string { return time.Duration(n).String() }

func TestSealRule(t *testing.T) {
	departed := at(1, "dep", &event.Departed{Port: "3323"})
	for _, c := range []struct {
		name   string
		events []*event.Envelope
		want   []alerts.Status // the transitions' statuses, in order
	}{
		{"intact in transit", []*event.Envelope{departed, seal(2, event.SealIntact)}, nil},
		{"broken before departure", []*event.Envelope{seal(0, event.SealBroken)}, nil},
		{"broken in transit", []*event.Envelope{departed, seal(2, event.SealIntact), seal(3, event.SealBroken)}, []alerts.Status{alerts.StatusOpen}},
		{"opened in transit, then intact", []*event.Envelope{departed, seal(2, event.SealOpened), seal(3, event.SealIntact)},
			[]alerts.Status{alerts.StatusOpen, alerts.StatusResolved}},
		{"broken twice: one alert", []*event.Envelope{departed, seal(2, event.SealBroken), seal(3, event.SealBroken)}, []alerts.Status{alerts.StatusOpen}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, w, out := run(t, env(t), c.events...)
			var got []alerts.Status
			for _, tr := range out {
				if tr.Alert.Rule != alerts.RuleSeal {
					t.Fatalf("unexpected %s alert", tr.Alert.Rule)
				}
				got = append(got, tr.Change.Status)
			}
			if len(got) != len(c.want) {
				t.Fatalf("transitions %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("transitions %v, want %v", got, c.want)
				}
			}
			if len(c.want) > 0 && c.want[len(c.want)-1] == alerts.StatusOpen {
				a := w.Active[alerts.RuleSeal]
				if a == nil || a.ID != alerts.AlertID("S1", alerts.RuleSeal, out[0].Alert.Trigger) || a.Severity != alerts.SeverityCritical {
					t.Fatalf("active alert %+v", a)
				}
			}
		})
	}
}

package alerts_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

func TestIdentityRule(t *testing.T) {
	p := along(t, 100, 0)
	rogue := fix(10, p, 80)
	rogue.Device = "ROGUE-1"
	foreign := atMin(12, "foreign", &event.DiversionRequested{To: "3312", Reason: "customer request"})
	foreign.Carrier = "XXXX"
	transfer := atMin(5, "transfer", &event.Transferred{ToCarrier: "NEWC"})
	fromTransferee := atMin(12, "from-transferee", &event.Departed{Port: "3323"})
	fromTransferee.Carrier = "NEWC"
	registers := func(m *event.Manifest) { m.Devices = append(m.Devices, "ROGUE-1") }
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"registered devices, the bonded carrier", []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, p, 80))}, nil},
		{"an unregistered device", []step{ev(truckManifest(0)), ev(departed(1)), ev(rogue)}, []string{"open"}},
		{"a carrier neither bonded nor a transferee", []step{ev(truckManifest(0)), ev(foreign)}, []string{"open"}},
		{"both: one alert, updated", []step{ev(truckManifest(0)), ev(rogue), ev(foreign)}, []string{"open", "update"}},
		{"a transferee", []step{ev(truckManifest(0)), ev(transfer), ev(fromTransferee)}, nil},
		{"a device heard before the manifest is judged with it", []step{ev(rogue), ev(truckManifest(20))}, []string{"open"}},
		{"a manifest that registers it resolves", []step{ev(truckManifest(0)), ev(rogue), ev(truckManifest(20, registers))},
			[]string{"open", "resolved"}},
		{"a manifest that registers no device", []step{ev(truckManifest(0, func(m *event.Manifest) { m.Devices = nil })), ev(rogue)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleIdentity, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleIdentity, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.last(t, alerts.RuleIdentity)
			if a.Severity != alerts.SeverityCritical || len(a.Evidence.EventIDs) == 0 ||
				!(strings.Contains(a.Message, "ROGUE-1") || strings.Contains(a.Message, "XXXX")) {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

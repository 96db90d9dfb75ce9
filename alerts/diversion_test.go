package alerts_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

func TestDiversionRule(t *testing.T) {
	approve := func(n float64, to event.PortCode) step {
		return ev(atMin(n, "approved-"+string(to), &event.DiversionApproved{To: to, Authorization: "CBP-123"}))
	}
	ask := ev(atMin(20, "asked", &event.DiversionRequested{To: "3312", Reason: "customer request"}))
	start := []step{ev(truckManifest(0)), ev(departed(1))}
	with := func(more ...step) []step { return append(append([]step{}, start...), more...) }
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
		in    string // in the message
	}{
		{"at the destination", with(ev(arrived(300, "3310"))), nil, ""},
		{"at another port", with(ev(arrived(300, "3312"))), []string{"open"}, "without an approved diversion"},
		{"diverted with approval en route", with(approve(100, "3312"), ev(arrived(300, "3312"))), nil, ""},
		{"approved only after the arrival", with(ev(arrived(300, "3312")), approve(400, "3312")), []string{"open", "update"}, "approved only"},
		{"requested, not approved", with(ask, ev(arrived(300, "3312"))), []string{"open"}, "requested"},
		{"an approval made en route that arrives late resolves", with(ev(arrived(300, "3312")), approve(100, "3312")),
			[]string{"open", "resolved"}, ""},
		{"an amended manifest naming the port resolves", with(ev(arrived(300, "3312")),
			ev(truckManifest(5, func(m *event.Manifest) { m.DestinationPort = "3312" }))), []string{"open", "resolved"}, ""},
		{"an arrival before the manifest is judged with it", []step{ev(departed(1)), ev(arrived(300, "3312")), ev(truckManifest(0))},
			[]string{"open"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleDiversion, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleDiversion, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleDiversion)[0].Alert
			if a.Severity != alerts.SeverityCritical || a.Evidence.Port != "3312" || a.Evidence.Values["km_from_destination"] <= 0 ||
				!strings.Contains(a.Message, "3310 (Sweetgrass") {
				t.Fatalf("alert %+v", a)
			}
			if c.in != "" && !strings.Contains(o.last(t, alerts.RuleDiversion).Message, c.in) {
				t.Fatalf("message %q lacks %q", o.last(t, alerts.RuleDiversion).Message, c.in)
			}
		})
	}
}

package webhook_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/webhook"
	"github.com/segmentio/kafka-go"
)

func TestDecodeEvent(t *testing.T) {
	ps := transitions(t, 2)
	for _, tc := range []struct {
		name, value, wantErr string
		wantID               string
	}{
		{"opened", string(ps[0].body), "", ps[0].id},
		{"not JSON", "\x00garbage", "not an alert transition CloudEvent", ""},
		{"no id", `{"specversion":"1.0","type":"gov.cbp.inbond.alert.opened.v1"}`, "has no id", ""},
		{"dotted id", `{"id":"a.b","specversion":"1.0"}`, `id "a.b" contains a "."`, ""},
	} {
		ev, err := webhook.DecodeEvent(kafka.Message{Topic: "inbond.alerts", Partition: 1, Offset: 7, Key: []byte("S00"), Value: []byte(tc.value)})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		case string(ev.Body) != tc.value || ev.Partition != 1 || ev.Offset != 7 || string(ev.Key) != "S00":
			t.Errorf("%s: %+v", tc.name, ev)
		}
		if tc.wantErr == "" && (ev.ID != tc.wantID || ev.Rule != ps[0].rule || ev.Severity != ps[0].severity ||
			ev.Shipment != ps[0].shipment || ev.Type != alerts.TypePrefix+"opened.v1") {
			t.Errorf("%s: decoded %+v", tc.name, ev)
		}
	}
}

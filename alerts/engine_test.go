package alerts_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

func TestClockTime(t *testing.T) {
	env := env(t)
	e := fix(10, along(t, 100, 0), 80)
	if got := env.ClockTime(e); !got.Equal(mins(10)) {
		t.Fatalf("an event received at once moves the clock to %v", got)
	}
	e.ReceivedTime = mins(10).Add(-env.Limits.FutureClock)
	if got := env.ClockTime(e); !got.Equal(mins(10)) {
		t.Fatalf("an event ahead by the limit moves the clock to %v", got)
	}
	e.ReceivedTime = mins(10).Add(-2 * time.Hour)
	if got := env.ClockTime(e); !got.Equal(e.ReceivedTime.Add(env.Limits.FutureClock)) {
		t.Fatalf("an event 2 h ahead moves the clock to %v, want its receipt plus the limit", got)
	}
	e.ReceivedTime = time.Time{}
	if got := env.ClockTime(e); !got.Equal(mins(10)) {
		t.Fatalf("an event without a receipt moves the clock to %v", got)
	}
}

// Due is the earliest of the rules' timers, and a disabled rule has none
// and raises nothing.
func TestDueAndDisabled(t *testing.T) {
	env := env(t)
	man := truckManifest(0, func(m *event.Manifest) { m.Deadline = mins(45) })
	ss := []step{ev(man), ev(departed(1)), ev(fix(10, along(t, 100, 0), 80))}
	o := steps(t, env, ss...)
	if due := o.w.Due(env, o.sh); !due.Equal(mins(45).Add(time.Millisecond)) {
		t.Fatalf("due %v, want the deadline's (before the gap's at 70 min)", due)
	}
	env.Disabled = map[alerts.Rule]bool{alerts.RuleOverdue: true}
	if due := o.w.Due(env, o.sh); !due.Equal(mins(70).Add(time.Millisecond)) {
		t.Fatalf("due %v with overdue disabled, want the gap's", due)
	}
	o = steps(t, env, append(ss, tick(mins(200)))...)
	for _, tr := range o.out {
		if tr.Alert.Rule == alerts.RuleOverdue {
			t.Fatal("a disabled rule raised an alert")
		}
	}
}

// A command is the desk's business (Watch.Command), no evidence for the
// rules, whatever its carrier.
func TestObserveIgnoresCommands(t *testing.T) {
	cmd := atMin(20, "cmd", &event.AlertCommand{Alert: "x", Action: event.ActionAcknowledge, By: "officer"})
	cmd.Carrier = "CBP"
	o := steps(t, env(t), ev(truckManifest(0)), ev(cmd))
	if len(o.out) > 0 {
		t.Fatalf("a command raised %s", o.out[0].Alert.Rule)
	}
}

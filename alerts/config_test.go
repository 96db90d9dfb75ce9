package alerts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
)

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "rules.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env, err := alerts.LoadEnv(write("thresholds:\n  route_km: 8\n  imbalance_window: 12h\nseverity:\n  gap: info\ndisabled: [pressure]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if env.Limits.RouteKm != 8 || env.Limits.ImbalanceWindow != 12*time.Hour || env.Limits.StopMinutes != alerts.DefaultThresholds.StopMinutes {
		t.Errorf("limits %+v", env.Limits)
	}
	if env.Severity[alerts.RuleGap] != alerts.SeverityInfo || !env.Disabled[alerts.RulePressure] || len(env.Corridors) == 0 {
		t.Errorf("env %+v", env)
	}
	for text, want := range map[string]string{
		"thresholds:\n  route_kms: 8\n": "route_kms",
		"severity:\n  gapp: info\n":     "gapp",
		"severity:\n  gap: loud\n":      "loud",
		"disabled: [nothing]\n":         "nothing",
	} {
		if _, err := alerts.LoadEnv(write(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %q", text, err, want)
		}
	}
	if env, err := alerts.LoadEnv(""); err != nil || env.Limits != alerts.DefaultThresholds {
		t.Errorf("defaults: %+v %v", env, err)
	}
}

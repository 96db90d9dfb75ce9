package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/webhook"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := webhook.ParseConfig([]byte(`
targets:
  - name: cbp-soc
    url: https://soc.example.gov/hooks/inbond
    secret_file: /run/secrets/soc
  - name: analytics
    url: http://10.0.0.7:8080/alerts
    secret_env: INBOND_WEBHOOK_ANALYTICS
    min_severity: critical
    rules: [seal, diversion]
    timeout: 2s
    attempts: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GroupID != webhook.DefaultGroupID || cfg.Attempts != 8 || cfg.Timeout != 15*time.Second ||
		cfg.Backoff != webhook.DefaultBackoff || cfg.MaxInFlight != webhook.DefaultMaxInFlight {
		t.Errorf("defaults: %+v", cfg)
	}
	soc, an := cfg.Targets[0], cfg.Targets[1]
	if soc.Attempts != 8 || soc.Timeout != 15*time.Second || soc.MinSeverity != alerts.SeverityInfo || len(soc.Rules) != 0 {
		t.Errorf("target defaults: %+v", soc)
	}
	if an.Attempts != 3 || an.Timeout != 2*time.Second || an.MinSeverity != alerts.SeverityCritical ||
		len(an.Rules) != 2 || an.Rules[0] != alerts.RuleSeal {
		t.Errorf("target settings: %+v", an)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const ok = "    url: https://x.example/h\n    secret_env: S\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must be in the error
	}{
		{"unknown key", "atempts: 3\ntargets:\n  - name: a\n" + ok, []string{"field atempts not found"}},
		{"unknown target key", "targets:\n  - name: a\n    min_sevrity: critical\n" + ok, []string{"field min_sevrity not found"}},
		{"secret in the file", "targets:\n  - name: a\n    secret: whsec_abc\n" + ok, []string{"field secret not found"}},
		{"no targets", "attempts: 3\n", []string{"targets: none configured"}},
		{"no secret", "targets:\n  - name: a\n    url: https://x.example/h\n", []string{"targets[0] (a): set exactly one of secret_file and secret_env (found 0)"}},
		{"two secrets", "targets:\n  - name: a\n    secret_file: /f\n" + ok, []string{"(found 2)"}},
		{"bad rule and severity", "targets:\n  - name: a\n    rules: [seal, teleport]\n    min_severity: urgent\n" + ok,
			[]string{`unknown rule "teleport"`, `min_severity "urgent": want info, warning or critical`}},
		{"bad url", "targets:\n  - name: a\n    url: soc.example.gov/h\n    secret_env: S\n", []string{`url "soc.example.gov/h": want an absolute http:// or https:// URL`}},
		{"names", "targets:\n  - name: SOC desk\n" + ok + "  - name: b\n" + ok + "  - name: b\n" + ok,
			[]string{`targets[0] (SOC desk): name "SOC desk"`, `targets[2] (b): name "b" is also targets[1]'s`}},
		{"numbers", "attempts: -1\nmax_in_flight: -2\ntimeout: -1s\nbackoff: {initial: 2s, max: 1s}\ntargets:\n  - name: a\n    attempts: 1000\n" + ok,
			[]string{"attempts: -1, want 1 to 100", "max_in_flight: -2", "timeout: -1s", "backoff.max: 1s is less than backoff.initial 2s", "targets[0] (a): attempts: 1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.ParseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigAndSecrets(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "soc.secret")
	if err := os.WriteFile(secretFile, []byte(vectorSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("INBOND_TEST_WEBHOOK_SECRET", newSecret(t))
	path := filepath.Join(dir, "webhooks.yaml")
	text := "targets:\n  - name: soc\n    url: https://soc.example/h\n    secret_file: " + secretFile +
		"\n  - name: env\n    url: https://env.example/h\n    secret_env: INBOND_TEST_WEBHOOK_SECRET\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := webhook.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.New(cfg, webhook.Options{Brokers: []string{"127.0.0.1:1"}}); err != nil {
		t.Fatalf("New: %v", err)
	}

	for _, tc := range []struct {
		name   string
		target webhook.Target
		want   string
	}{
		{"missing file", webhook.Target{SecretFile: filepath.Join(dir, "nope")}, "target t: secret_file: open " + filepath.Join(dir, "nope")},
		{"unset env", webhook.Target{SecretEnv: "INBOND_TEST_WEBHOOK_UNSET"}, "target t: secret_env: environment variable INBOND_TEST_WEBHOOK_UNSET is not set"},
		{"bad file", webhook.Target{SecretFile: path}, "target t: secret_file " + path + `: secret: want the Standard Webhooks format`},
	} {
		tc.target.Name, tc.target.URL = "t", "https://t.example/h"
		_, err := webhook.New(webhook.Config{Targets: []webhook.Target{tc.target}}, webhook.Options{Brokers: []string{"127.0.0.1:1"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := webhook.LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "webhook config: open") {
		t.Errorf("missing file: %v", err)
	}
}

func TestTargetMatches(t *testing.T) {
	all := webhook.Target{}
	critical := webhook.Target{MinSeverity: alerts.SeverityCritical}
	warning := webhook.Target{MinSeverity: alerts.SeverityWarning}
	sealOrRoute := webhook.Target{Rules: []alerts.Rule{alerts.RuleSeal, alerts.RuleRoute}, MinSeverity: alerts.SeverityWarning}
	for _, tc := range []struct {
		t        webhook.Target
		rule     alerts.Rule
		severity alerts.Severity
		want     bool
	}{
		{all, alerts.RuleGap, alerts.SeverityInfo, true},
		{critical, alerts.RuleSeal, alerts.SeverityCritical, true},
		{critical, alerts.RuleRoute, alerts.SeverityWarning, false},
		{warning, alerts.RuleGap, alerts.SeverityInfo, false},
		{warning, alerts.RuleGap, alerts.SeverityWarning, true},
		{warning, alerts.RuleGap, alerts.SeverityCritical, true},
		{sealOrRoute, alerts.RuleSeal, alerts.SeverityCritical, true},
		{sealOrRoute, alerts.RuleRoute, alerts.SeverityInfo, false},
		{sealOrRoute, alerts.RuleOverdue, alerts.SeverityCritical, false},
		{critical, alerts.RuleSeal, "catastrophic", true}, // unknown severity: delivered, never lost
	} {
		if got := tc.t.Matches(tc.rule, tc.severity); got != tc.want {
			t.Errorf("%+v.Matches(%s, %s) = %v, want %v", tc.t, tc.rule, tc.severity, got, tc.want)
		}
	}
}

// TestExampleConfig keeps testdata/webhooks.example.yaml, which operators
// copy, loading with the defaults it claims.
func TestExampleConfig(t *testing.T) {
	cfg, err := webhook.LoadConfig("testdata/webhooks.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var defaults webhook.Config
	defaults.SetDefaults()
	if cfg.GroupID != defaults.GroupID || cfg.Attempts != defaults.Attempts || cfg.Backoff != defaults.Backoff ||
		cfg.Timeout != defaults.Timeout || cfg.MaxInFlight != defaults.MaxInFlight {
		t.Errorf("the example's top values %+v are not the defaults %+v", cfg, defaults)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[1].Attempts != 12 || cfg.Targets[0].Timeout != 15*time.Second {
		t.Errorf("targets %+v", cfg.Targets)
	}
}

package alerts

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is the rules' configuration file (YAML): limits, severities and
// rules turned off; what it leaves out keeps DESIGN.md's defaults.
//
//	thresholds:
//	  route_km: 5
//	  stop_minutes: 30
//	  imbalance_window: 24h
//	severity:
//	  gap: info
//	disabled: [pressure]
type Config struct {
	Thresholds Thresholds        `yaml:"thresholds"`
	Severity   map[Rule]Severity `yaml:"severity"`
	Disabled   []Rule            `yaml:"disabled"`
}

// LoadEnv returns the rules' environment from the YAML file at path, or
// the defaults when path is empty. Unknown keys, rules and severities are
// errors, so a typo never silently keeps a default.
func LoadEnv(path string) (*Env, error) {
	env, err := DefaultEnv()
	if err != nil || path == "" {
		return env, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules config: %w", err)
	}
	cfg := Config{Thresholds: DefaultThresholds}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("rules config %s: %w", path, err)
	}
	env.Limits, env.Severity, env.Disabled = cfg.Thresholds, map[Rule]Severity{}, map[Rule]bool{}
	for r, s := range cfg.Severity {
		if _, err := ParseRule(string(r)); err != nil {
			return nil, fmt.Errorf("rules config %s: severity: %w", path, err)
		}
		switch s {
		case SeverityInfo, SeverityWarning, SeverityCritical:
		default:
			return nil, fmt.Errorf("rules config %s: severity of %s: %q, want info, warning or critical", path, r, s)
		}
		env.Severity[r] = s
	}
	for _, r := range cfg.Disabled {
		if _, err := ParseRule(string(r)); err != nil {
			return nil, fmt.Errorf("rules config %s: disabled: %w", path, err)
		}
		env.Disabled[r] = true
	}
	return env, nil
}

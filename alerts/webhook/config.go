package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/internal/retry"
	"gopkg.in/yaml.v3"
)

// Defaults of Config, applied to every field left zero.
const (
	DefaultGroupID     = "inbond-webhooks"
	DefaultAttempts    = 8
	DefaultTimeout     = 15 * time.Second // the low end of the 15 to 30 s the Standard Webhooks spec recommends
	DefaultMaxInFlight = 1000
)

// DefaultBackoff bounds the waits between attempts: about 5 s after the first
// failure (the spec's example schedule starts so), growing 1.5× each time
// (randomized by half either way) up to 5 minutes. With DefaultAttempts the
// seven waits add up to about 2.7 minutes; a target down for longer gets
// dead letters, which can be replayed to it.
var DefaultBackoff = retry.Policy{Initial: 5 * time.Second, Max: 5 * time.Minute}

// Config is the webhook sink's configuration file (YAML). Every field left
// out keeps its default; unknown keys are errors, so a typo never silently
// keeps a default. testdata/webhooks.example.yaml is a commented example
// (tested); in short:
//
//	group_id: inbond-webhooks   # Kafka consumer group of the sink's instances
//	attempts: 8                 # tries per delivery before the dead letter
//	backoff: {initial: 5s, max: 5m}
//	timeout: 15s                # per attempt, the whole request and answer
//	max_in_flight: 1000         # records fetched and not yet committable
//	targets:
//	  - name: cbp-soc            # [a-z0-9_-], unique: metrics label, dead letters
//	    url: https://soc.example.gov/hooks/inbond
//	    secret_file: /run/secrets/cbp-soc-webhook   # or secret_env: INBOND_WEBHOOK_CBP_SOC
//	    min_severity: warning    # info (default: every alert), warning or critical
//	    rules: [seal, diversion] # default: every rule
//	    timeout: 5s              # overrides the timeout above
//	    attempts: 12             # overrides the attempts above
//
// The secret is never in the file: secret_file names a file holding it,
// secret_env an environment variable, in the Standard Webhooks format
// "whsec_<base64>".
type Config struct {
	// GroupID is the consumer group on inbond.alerts (default
	// DefaultGroupID). Instances sharing it split the partitions; a new group
	// starts at the oldest record the topic keeps.
	GroupID string `yaml:"group_id"`
	// Attempts is how many times a delivery is tried before it is
	// dead-lettered (default DefaultAttempts); a target may override it.
	Attempts int `yaml:"attempts"`
	// Backoff bounds the waits between attempts (default DefaultBackoff).
	Backoff retry.Policy `yaml:"backoff"`
	// Timeout bounds one attempt, from dialing to the end of the answer
	// (default DefaultTimeout); a target may override it.
	Timeout time.Duration `yaml:"timeout"`
	// MaxInFlight bounds the records fetched but not yet committable
	// (default DefaultMaxInFlight): how far the other targets may run ahead
	// of a slow one.
	MaxInFlight int      `yaml:"max_in_flight"`
	Targets     []Target `yaml:"targets"`
}

// Target is one receiver of webhooks and the alerts it wants.
type Target struct {
	// Name identifies the target in metrics, logs and dead letters.
	Name string `yaml:"name"`
	// URL receives the POSTs (http or https). Redirects are not followed:
	// a 3xx answer is a failed attempt.
	URL string `yaml:"url"`
	// SecretFile is a file holding the secret ("whsec_<base64>"; surrounding
	// whitespace is ignored). Exactly one of SecretFile, SecretEnv and Secret.
	SecretFile string `yaml:"secret_file"`
	// SecretEnv names an environment variable holding the secret.
	SecretEnv string `yaml:"secret_env"`
	// Secret is the secret itself, for configurations built in code (tests);
	// a YAML file cannot set it.
	Secret string `yaml:"-"`
	// MinSeverity is the least severity delivered (default info: every
	// alert). An alert of a severity the sink does not know is delivered.
	MinSeverity alerts.Severity `yaml:"min_severity"`
	// Rules, when not empty, are the only rules whose alerts are delivered.
	Rules []alerts.Rule `yaml:"rules"`
	// Timeout overrides Config.Timeout for this target.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides Config.Attempts for this target.
	Attempts int `yaml:"attempts"`
}

// LoadConfig reads the YAML file at path, applies the defaults and
// validates it. It does not read the secrets: New does.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("webhook config: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("webhook config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes a YAML configuration, applies the defaults and
// validates it.
func ParseConfig(b []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, err
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// SetDefaults fills every field left zero with its default, the targets'
// Timeout and Attempts with the Config's.
func (c *Config) SetDefaults() {
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Backoff.Initial == 0 {
		c.Backoff.Initial = DefaultBackoff.Initial
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = max(DefaultBackoff.Max, c.Backoff.Initial)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Timeout == 0 {
			t.Timeout = c.Timeout
		}
		if t.Attempts == 0 {
			t.Attempts = c.Attempts
		}
		if t.MinSeverity == "" {
			t.MinSeverity = alerts.SeverityInfo
		}
	}
}

// MaxAttempts bounds Attempts: beyond it a typo (800 for 8) would hold a
// failing target's records for hours.
const MaxAttempts = 100

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate reports every setting that cannot work, each naming the field
// (and the target by index and name) and what it wants. Call it after
// SetDefaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.GroupID == "" {
		bad("group_id is empty")
	}
	if c.Attempts < 1 || c.Attempts > MaxAttempts {
		bad("attempts: %d, want 1 to %d", c.Attempts, MaxAttempts)
	}
	if c.Backoff.Initial <= 0 {
		bad("backoff.initial: %s, want more than 0", c.Backoff.Initial)
	}
	if c.Backoff.Max < c.Backoff.Initial {
		bad("backoff.max: %s is less than backoff.initial %s", c.Backoff.Max, c.Backoff.Initial)
	}
	if c.Timeout <= 0 {
		bad("timeout: %s, want more than 0", c.Timeout)
	}
	if c.MaxInFlight < 1 {
		bad("max_in_flight: %d, want at least 1", c.MaxInFlight)
	}
	if len(c.Targets) == 0 {
		bad("targets: none configured; a webhook sink needs at least one")
	}
	seen := map[string]int{}
	for i, t := range c.Targets {
		where := fmt.Sprintf("targets[%d]", i)
		if t.Name != "" {
			where += " (" + t.Name + ")"
		}
		if !nameRE.MatchString(t.Name) {
			bad("%s: name %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", where, t.Name)
		} else if j, dup := seen[t.Name]; dup {
			bad("%s: name %q is also targets[%d]'s", where, t.Name, j)
		} else {
			seen[t.Name] = i
		}
		if u, err := url.Parse(t.URL); err != nil {
			bad("%s: url: %v", where, err)
		} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s: url %q: want an absolute http:// or https:// URL", where, t.URL)
		}
		sources := 0
		for _, s := range []string{t.SecretFile, t.SecretEnv, t.Secret} {
			if s != "" {
				sources++
			}
		}
		if sources != 1 {
			bad("%s: set exactly one of secret_file and secret_env (found %d); the secret itself never goes in the file", where, sources)
		}
		if _, ok := severityRank[t.MinSeverity]; !ok {
			bad("%s: min_severity %q: want info, warning or critical", where, t.MinSeverity)
		}
		for _, r := range t.Rules {
			if _, err := alerts.ParseRule(string(r)); err != nil {
				bad("%s: rules: %w", where, err)
			}
		}
		if t.Timeout <= 0 {
			bad("%s: timeout: %s, want more than 0", where, t.Timeout)
		}
		if t.Attempts < 1 || t.Attempts > MaxAttempts {
			bad("%s: attempts: %d, want 1 to %d", where, t.Attempts, MaxAttempts)
		}
	}
	return errors.Join(errs...)
}

// secret reads the target's secret from where the configuration says.
func (t *Target) secret() (Secret, error) {
	var raw string
	switch {
	case t.Secret != "":
		raw = t.Secret
	case t.SecretFile != "":
		b, err := os.ReadFile(t.SecretFile)
		if err != nil {
			return Secret{}, fmt.Errorf("secret_file: %w", err)
		}
		raw = string(b)
	case t.SecretEnv != "":
		v, ok := os.LookupEnv(t.SecretEnv)
		if !ok || v == "" {
			return Secret{}, fmt.Errorf("secret_env: environment variable %s is not set", t.SecretEnv)
		}
		raw = v
	default:
		return Secret{}, errors.New("no secret configured (secret_file or secret_env)")
	}
	s, err := ParseSecret(raw)
	if err != nil {
		if t.SecretFile != "" {
			return Secret{}, fmt.Errorf("secret_file %s: %w", t.SecretFile, err)
		}
		if t.SecretEnv != "" {
			return Secret{}, fmt.Errorf("secret_env %s: %w", t.SecretEnv, err)
		}
	}
	return s, err
}

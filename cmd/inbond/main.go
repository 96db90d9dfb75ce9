// Command inbond is the one binary of inbond: it runs the ingest gateways, the
// demo on embedded servers, and (as the project grows) the processor, the
// simulator and the reports. Every flag can also be set from the environment
// as INBOND_<FLAG>, upper-cased with dashes as underscores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/inbond/inbond/internal/obs"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &ffcli.Command{
		Name:       "inbond",
		ShortUsage: "inbond <subcommand> [flags]",
		LongHelp: "inbond tracks customs in-bond movements of crude oil and natural gas in real time.\n\n" +
			"Every flag can be set from the environment as INBOND_<FLAG> (e.g. --kafka-brokers\n" +
			"is INBOND_KAFKA_BROKERS); a flag on the command line wins.",
		Subcommands: []*ffcli.Command{ingestCommand(), processCommand(), simulateCommand(), replayCommand(), alertsCommand(), webhooksCommand(), anchorCommand(), apiCommand(), demoCommand(), benchCommand(), kafkaCommand(), verifyCommand(), reportCommand()},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
	if err := root.ParseAndRun(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "inbond:", err)
		os.Exit(1)
	}
}

// common holds the flags every long-running subcommand takes.
type common struct {
	logFormat   string
	logLevel    string
	metricsAddr string
}

func (c *common) register(fs *flag.FlagSet, metricsDefault string) {
	fs.StringVar(&c.logFormat, "log-format", "console", "log format: console (people) or json (log shippers)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.metricsAddr, "metrics-addr", metricsDefault, "listen address for Prometheus /metrics (empty disables)")
}

// withLogger is a subcommand's Exec: it builds the logger the flags ask for,
// runs run with it and flushes it on the way out.
func (c *common) withLogger(run func(context.Context, *zap.Logger) error) func(context.Context, []string) error {
	return func(ctx context.Context, _ []string) error {
		log, err := obs.NewLogger(c.logFormat, c.logLevel)
		if err != nil {
			return err
		}
		defer log.Sync() //nolint:errcheck // best effort on exit
		return run(ctx, log)
	}
}

// command builds a subcommand whose flags are also read from INBOND_* variables.
func command(name, usage, short string, fs *flag.FlagSet, exec func(context.Context, []string) error) *ffcli.Command {
	return &ffcli.Command{
		Name: name, ShortUsage: usage, ShortHelp: short, FlagSet: fs,
		LongHelp: "Every flag can also be set from the environment as INBOND_<FLAG>,\n" +
			"upper-cased with dashes as underscores (--kafka-brokers is INBOND_KAFKA_BROKERS).",
		Options: []ff.Option{ff.WithEnvVarPrefix("INBOND")},
		Exec:    exec,
	}
}

// readSecret returns the trimmed content of the file at path ("" when path
// is empty): how passwords reach inbond, never through a flag's value.
func readSecret(path, what string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

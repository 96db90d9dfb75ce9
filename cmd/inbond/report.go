package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/obs"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/report"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
	"golang.org/x/mod/sumdb/note"
)

// reportSource holds the flags naming where reports are computed from.
type reportSource struct {
	brokers, logAt, key string
}

func (s *reportSource) register(fs *flag.FlagSet) {
	fs.StringVar(&s.brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers of the archive (inbond.events), comma-separated")
	fs.StringVar(&s.logAt, "log", "http://127.0.0.1:8491", "the transparency log: its HTTP root (as `inbond anchor --listen` serves it) or its directory")
	fs.StringVar(&s.key, "key", "", "the log's note verifier key, or a file holding it (required)")
}

// logVerifier reads the --key flag of cmd: the log's note verifier key, or
// a file holding it; required, since it is the one key an auditor trusts.
func logVerifier(cmd, key string) (note.Verifier, error) {
	if key == "" {
		return nil, fmt.Errorf("%s: --key is required: the log's verifier key (printed by `inbond anchor`, served at /log.vkey) or a file holding it", cmd)
	}
	return audit.Verifier(key)
}

func (s *reportSource) source() (report.Source, error) {
	v, err := logVerifier("report", s.key)
	if err != nil {
		return report.Source{}, err
	}
	lr, err := report.OpenLog(s.logAt)
	if err != nil {
		return report.Source{}, err
	}
	return report.Source{Brokers: splitList(s.brokers), Log: lr, Key: v}, nil
}

// reportAlerts holds the flags of the in-bond summary's alert counts: the
// processor's records in Redis.
type reportAlerts struct {
	rf redisFlags
	on bool
}

func (a *reportAlerts) register(fs *flag.FlagSet) {
	a.rf.register(fs)
	fs.BoolVar(&a.on, "alerts", true, "count the processor's alerts from Redis in the in-bond summary (false: no Redis needed, the counts are empty)")
}

// attach makes s count the alerts in Redis, when the flags ask; close
// closes the client it opened.
func (a *reportAlerts) attach(ctx context.Context, s *report.Source) (close func() error, err error) {
	if !a.on {
		return func() error { return nil }, nil
	}
	store, closeRedis, err := a.rf.store()
	if err != nil {
		return nil, err
	}
	n, err := bus.PartitionCount(ctx, s.Brokers, "inbond.events")
	if err != nil {
		_ = closeRedis()
		return nil, err
	}
	s.Alerts = (&desk.Desk{Store: store, Partitions: n}).All
	return closeRedis, nil
}

// sourceWithAlerts is the report source the flags name, counting the
// alerts in Redis when they ask; close closes the client it opened.
func sourceWithAlerts(ctx context.Context, src *reportSource, a *reportAlerts) (report.Source, func() error, error) {
	s, err := src.source()
	if err != nil {
		return report.Source{}, nil, err
	}
	closeRedis, err := a.attach(ctx, &s)
	if err != nil {
		return report.Source{}, nil, err
	}
	return s, closeRedis, nil
}

func reportCommand() *ffcli.Command {
	return &ffcli.Command{
		Name: "report", ShortUsage: "inbond report doe|verify|schedule [flags]",
		ShortHelp:   "DOE reports (EIA-814, FE-746R, in-bond summary) from the archive at a ledger checkpoint, and their verification",
		Subcommands: []*ffcli.Command{reportDOECommand(), reportVerifyCommand(), reportScheduleCommand()},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

func reportDOECommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond report doe", flag.ExitOnError)
	var src reportSource
	src.register(fs)
	var alertFlags reportAlerts
	alertFlags.register(fs)
	period := fs.String("period", "", "the month to report, YYYY-MM (required)")
	format := fs.String("format", "csv", "comma-separated formats: csv, json (one file per form), html, pdf, png (the page; pdf and png need Chromium)")
	out := fs.String("out", ".", "directory the files are written to")
	size := fs.Uint64("tree-size", 0, "compute at the log's tree of this size (0: the latest signed tree); a report names it, so re-running at it gives the same files")
	return command("doe", "inbond report doe --period YYYY-MM --key VKEY [--format csv,json,html,pdf] [--out DIR]",
		"compute a month's DOE reports from the archive at a ledger checkpoint", fs,
		func(ctx context.Context, _ []string) error {
			if *period == "" {
				return errors.New("report doe: --period is required (YYYY-MM)")
			}
			p, err := report.ParsePeriod(*period)
			if err != nil {
				return err
			}
			s, closeRedis, err := sourceWithAlerts(ctx, &src, &alertFlags)
			if err != nil {
				return err
			}
			defer closeRedis() //nolint:errcheck // a read-only client
			snap, err := report.Open(ctx, s, *size)
			if err != nil {
				return err
			}
			d, err := report.ComputeAt(p, snap)
			if err != nil {
				return err
			}
			files, err := report.WriteFiles(ctx, d, *out, splitList(*format))
			if err != nil {
				return err
			}
			fmt.Printf("DOE reports for %s at ledger checkpoint %s (tree size %d, root %s), from %d archived records:\n",
				p, snap.Checkpoint.Origin, snap.Checkpoint.TreeSize, snap.Checkpoint.Root, len(snap.Records))
			for _, f := range files {
				fmt.Printf("  %s (%d bytes)\n", f.Path, len(f.Data))
			}
			return nil
		})
}

func reportVerifyCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond report verify", flag.ExitOnError)
	var src reportSource
	src.register(fs)
	return command("verify", "inbond report verify --key VKEY [--log LOG] [--kafka-brokers B] FILE...",
		"re-derive every total of report files from the archive up to the checkpoint each names", fs,
		func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return errors.New("report verify: name the report files to verify")
			}
			s, err := src.source()
			if err != nil {
				return err
			}
			failed := 0
			for _, path := range args {
				b, err := os.ReadFile(path)
				if err == nil {
					var msg string
					if msg, err = report.Verify(ctx, s, filepath.Base(path), b); err == nil {
						fmt.Println(msg)
						continue
					}
				}
				failed++
				fmt.Fprintf(os.Stderr, "FAILED %s: %v\n", path, err)
			}
			if failed > 0 {
				return fmt.Errorf("report verify: %d of %d files do not verify", failed, len(args))
			}
			return nil
		})
}

func reportScheduleCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond report schedule", flag.ExitOnError)
	var c common
	c.register(fs, ":9468")
	var src reportSource
	src.register(fs)
	var alertFlags reportAlerts
	alertFlags.register(fs)
	dir := fs.String("dir", "reports", "directory each period's files are written to (serve it with the API: api.Config.Reports)")
	endpoint := fs.String("endpoint", "", "https URL each file is POSTed to, with an Idempotency-Key (empty: the directory only)")
	grace := fs.Duration("grace", 6*time.Hour, "how long after a month's end (UTC) its reports wait for late readings and their checkpoints")
	format := fs.String("format", "csv,json,html", "comma-separated formats: csv, json, html, pdf, png (pdf and png need Chromium)")
	attempts := fs.Int("attempts", 8, "POSTs of one file per pass before it is given up until the next pass (inbond_report_deliveries_total{outcome=\"gave_up\"})")
	recheck := fs.Duration("recheck", 15*time.Minute, "how often a pass runs again while files are undelivered or a pass failed")
	once := fs.Bool("once", false, "run one pass (produce what is due, deliver what is not delivered) and exit")
	return command("schedule", "inbond report schedule --key VKEY --dir DIR [--endpoint https://...] [--grace 6h]",
		"produce each closed month's DOE reports once, after the grace, at the log's checkpoint then, and deliver them to a directory and an HTTPS endpoint", fs,
		c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			s, closeRedis, err := sourceWithAlerts(ctx, &src, &alertFlags)
			if err != nil {
				return err
			}
			defer closeRedis() //nolint:errcheck // a read-only client
			reg := obs.NewRegistry()
			sched, err := report.NewScheduler(report.SchedulerConfig{Source: s, Dir: *dir, Endpoint: *endpoint, Grace: *grace,
				Formats: splitList(*format), Attempts: *attempts, Recheck: *recheck, Metrics: report.NewSchedulerMetrics(reg), Log: log})
			if err != nil {
				return err
			}
			if c.metricsAddr != "" {
				m, err := obs.ServeMetrics(c.metricsAddr, reg)
				if err != nil {
					return err
				}
				defer m.Close() //nolint:errcheck // on exit
			}
			if *once {
				p, err := sched.Once(ctx)
				if err != nil {
					return err
				}
				fmt.Printf("produced %v; delivered %d files, %d given up, %d undelivered\n", p.Produced, len(p.Delivered), len(p.Failed), p.Undelivered)
				if len(p.Failed) > 0 {
					return fmt.Errorf("report schedule: %d files not delivered to %s", len(p.Failed), *endpoint)
				}
				return nil
			}
			log.Info("report scheduler running", zap.String("dir", *dir), zap.String("endpoint", *endpoint), zap.Duration("grace", *grace))
			return sched.Run(ctx)
		}))
}

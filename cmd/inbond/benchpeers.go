package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// benchPeersCommand is `inbond bench peers`: inbond against the log's read
// ceiling, the same job on goka (bench/goka) and its fold on Kafka Streams
// (bench/kstreams, on --kafka real), in one run.
func benchPeersCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond bench peers", flag.ExitOnError)
	var rf redisFlags
	rf.register(fs)
	events := fs.Int("events", 300_000, "events to pre-generate (simulated carriers on the shipped corridors)")
	shipments := fs.Int("shipments", 1000, "shipments the events belong to")
	rounds := fs.Int("rounds", 3, "rounds of (ceiling, goka, inbond), interleaved; the best of each is reported")
	live := fs.Int("live", 0, "of the events, the last ones each run publishes at --rate once caught up, to time them (default a fifth, at most 4 s of --rate)")
	rate := fs.Float64("rate", 20_000, "events per second of the live part")
	withGoka := fs.Bool("goka", true, "run the goka peer (false: the ceiling and inbond only)")
	gokaBin := fs.String("goka-bin", "", "the goka peer binary (default: built from ./bench/goka with the go command)")
	gokaStorage := fs.String("goka-storage", "memory", "the peer's local table storage: memory or leveldb (its changelog topic is the durable state either way)")
	restart := fs.Bool("restart", true, "measure a SIGKILL mid-stream for goka and inbond (inbond as an `inbond process` child)")
	restartRate := fs.Float64("restart-rate", 20_000, "events per second of the stream the restart figure kills into")
	rulesOff := fs.Bool("rules-off", true, "also run inbond without its rules: exactly the peer's job")
	processEnv := fs.String("process-env", "", "also run inbond process (a child, rules off) with these space-separated KEY=VALUE settings in its environment (e.g. 'GOGC=400'), next to the same without")
	flushInterval := fs.Duration("flush-interval", 0, "also run inbond (rules on) flushing at this interval (default 100ms): the latency it buys")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the last round's inbond (rules on) catch-up to this file")
	kafkaKind := fs.String("kafka", pipeline.PeersKafkaFake, "the Kafka the run starts: kfake (in process) or real (Apache Kafka from `make kafka-jars`, one broker)")
	withKStreams := fs.String("kstreams", "auto", "run the Kafka Streams peer (bench/kstreams) twice, exactly_once_v2 and at_least_once: true, false, or auto (with --kafka real)")
	kstreamsLibs := fs.String("kstreams-libs", pipeline.KStreamsLibs, "the Kafka Streams peer's jars (`make kstreams-peer` puts them there)")
	kstreamsCommit := fs.Duration("kstreams-commit", 0, "the Kafka Streams peer's commit.interval.ms (default 100ms, inbond's flush interval)")
	c := command("peers", "inbond bench peers [flags]",
		"Measure inbond against the field: the log's read ceiling and the same job as a goka processor, on the same events, interleaved, with events/s, end-to-end latency, restart after SIGKILL and the final states compared.",
		fs, func(ctx context.Context, _ []string) error {
			rf.prefix = fmt.Sprintf("%sbench-peers:%d:", rf.prefix, time.Now().UnixNano())
			rdb, err := rf.client()
			if err != nil {
				return err
			}
			defer rdb.Close()
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("the benchmark needs a real Redis: %s: %w", rf.addr, err)
			}
			bin := *gokaBin
			if !*withGoka {
				bin = ""
			}
			if bin == "" && *withGoka {
				dir, err := os.MkdirTemp("", "inbond-goka-peer-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				if bin, err = buildGokaPeer(ctx, dir); err != nil {
					return err
				}
			}
			libs := ""
			switch *withKStreams {
			case "true":
				libs = *kstreamsLibs
			case "auto":
				if *kafkaKind == pipeline.PeersKafkaReal {
					libs = *kstreamsLibs
				}
			case "false":
			default:
				return fmt.Errorf("--kstreams %q: true, false or auto", *withKStreams)
			}
			if libs != "" {
				if _, err := os.Stat(filepath.Join(libs, "kstreams-peer.jar")); err != nil {
					return fmt.Errorf("the Kafka Streams peer is not built in %s (run make kstreams-peer, or pass --kstreams=false): %w", libs, err)
				}
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			fmt.Printf("inbond bench peers: Redis %s (keys under %s, removed afterwards), goka peer %q, Kafka Streams peer %q\n", rf.addr, rf.prefix, bin, libs)
			_, err = pipeline.Peers(ctx, pipeline.PeersConfig{
				Kafka: *kafkaKind, KStreamsLibs: libs, KStreamsCommit: *kstreamsCommit,
				Redis: rdb, Prefix: rf.prefix, Events: *events, Shipments: *shipments, Rounds: *rounds,
				Live: *live, Rate: *rate, GokaBinary: bin, GokaStorage: *gokaStorage, InbondBinary: self,
				Restart: *restart, RestartRate: *restartRate, RulesOff: *rulesOff, ProcessEnv: strings.Fields(*processEnv), FlushInterval: *flushInterval, CPUProfile: *cpuProfile, Out: os.Stdout,
			})
			return err
		})
	return c
}

// buildGokaPeer builds bench/goka (its own module) into dir, from the
// repository's root as the working directory.
func buildGokaPeer(ctx context.Context, dir string) (string, error) {
	src := filepath.Join("bench", "goka")
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", errors.New("no ./bench/goka here: run from the repository's root, or pass --goka-bin (make bench-peers builds it)")
	}
	bin := filepath.Join(dir, "goka-peer")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	fmt.Println("building the goka peer (bench/goka) …")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the goka peer: %w", err)
	}
	return bin, nil
}

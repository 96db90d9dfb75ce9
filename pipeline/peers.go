package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PeersConfig configures the benchmark against the field (`inbond bench
// peers`): the log's read ceiling, the same job as a goka processor, and
// inbond, on the same pre-generated events in one run.
type PeersConfig struct {
	Redis  *redis.Client // a real Redis; keys go under Prefix and are deleted afterwards
	Prefix string
	// Kafka is the cluster the benchmark starts: PeersKafkaFake (in-process
	// kfake, the default) or PeersKafkaReal (Apache Kafka from
	// internal/realkafka's jars). Brokers, when set, are a running cluster
	// used instead.
	Kafka   string
	Brokers []string
	// KStreamsLibs is the folder of the Kafka Streams peer's jars
	// (bench/kstreams, `make kstreams-peer`; "" leaves it out): it runs
	// twice, exactly_once_v2 and at_least_once. Java is the java binary
	// (default realkafka.FindJava's), KStreamsCommit its commit interval
	// (default 100 ms, inbond's flush interval).
	KStreamsLibs   string
	Java           string
	KStreamsCommit time.Duration
	Events         int // default 300,000
	Shipments      int // default 1,000
	// Rounds of (ceiling, goka, inbond), interleaved so all see the same
	// machine; the best throughput of each is reported (default 3).
	Rounds int
	// Live is how many of the events, the last ones, each run publishes at
	// Rate once it has caught up with the others, to time them from their
	// publication to their result (default a fifth of Events, at most 4 s
	// of Rate).
	Live int
	Rate float64 // default 20,000 events/s
	// GokaBinary is the peer built from bench/goka ("" leaves goka out).
	GokaBinary  string
	GokaStorage string // the peer's table storage: memory (default) or leveldb
	// InbondBinary runs `inbond process` as a child: the inbond-process
	// engine (the peer's setup: its own process, rules off) and inbond's
	// restart figure ("": neither).
	InbondBinary string
	// Restart measures, for goka and inbond, a SIGKILL in the middle of a
	// stream published at RestartRate (default 20,000 events/s).
	Restart     bool
	RestartRate float64
	// RulesOff also runs inbond without its rules: exactly the peer's job.
	RulesOff bool
	// ProcessEnv, when set, also runs `inbond process` (a child, rules
	// off) with these KEY=VALUE settings in its environment (e.g. GOGC,
	// GOMEMLIMIT), next to the same without: an A/B in the same run. (Not
	// in this process: its heap holds the in-process Kafka's logs.)
	ProcessEnv []string
	// FlushInterval, when positive, also runs inbond (rules on) flushing at
	// this interval instead of the default 100 ms: the latency it buys.
	FlushInterval time.Duration
	// CPUProfile, when set, receives a CPU profile of this process during
	// the catch-up of one more inbond (rules on) pass after the rounds, not
	// counted in the results (profiling slows it down).
	CPUProfile string
	Out        io.Writer // progress and results; nil for none
}

// Engine names in PeerRun.Engine.
const (
	EngineCeiling       = "ceiling"
	EngineGoka          = "goka"
	EngineInbond        = "inbond"
	EngineInbondNoRules = "inbond-norules"
	// EngineInbondProcess is `inbond process` as a child process, rules
	// and ledger off: the goka peer's exact job and setup.
	EngineInbondProcess = "inbond-process"
)

// PeerRun is one engine's pass over the events: its catch-up over the
// preloaded ones and its latency over the live ones.
type PeerRun struct {
	Engine    string
	Events    int           // preloaded events it caught up with
	Elapsed   time.Duration // from its start to its result for the last preloaded event
	PerSecond float64
	// Startup is from its start to its first result (joining the group,
	// claiming, recovering, the first fetch); Steady is the throughput from
	// there on.
	Startup time.Duration
	Steady  float64
	// CPU is this process's CPU time during the catch-up (the in-process
	// Kafka included; not the goka child's), RedisCPU the Redis server's.
	CPU, RedisCPU time.Duration
	ChildCPU      time.Duration // goka: the peer process's CPU time up to its catch-up
	Flushes       int64         // inbond: flushes to Redis during the catch-up
	Live          int           // live events timed
	LiveRate      float64       // at which they were published
	// Latency is from a live event's publication (just before the produce
	// call) to its result: read (ceiling), applied in goka's callback with
	// the state set in its table (goka), durable in Redis with the
	// partition's offset (inbond).
	Latency Latencies
}

func (r PeerRun) String() string {
	flushes := ""
	if r.Flushes > 0 {
		flushes = fmt.Sprintf(", %d flushes", r.Flushes)
	}
	if r.ChildCPU > 0 {
		flushes += fmt.Sprintf(", %s the peer process", r.ChildCPU.Round(time.Millisecond))
	}
	return fmt.Sprintf("%-14s %9.0f events/s (%d in %s; first result after %s, %.0f/s from there; CPU %s here, %s Redis%s); live %d at %.0f/s: p50 %s p99 %s max %s",
		r.Engine, r.PerSecond, r.Events, r.Elapsed.Round(time.Millisecond), r.Startup.Round(time.Millisecond), r.Steady,
		r.CPU.Round(time.Millisecond), r.RedisCPU.Round(time.Millisecond), flushes, r.Live, r.LiveRate,
		r.Latency.P50.Round(10*time.Microsecond), r.Latency.P99.Round(10*time.Microsecond), r.Latency.Max.Round(10*time.Microsecond))
}

// RestartRun is a SIGKILL in the middle of a stream.
type RestartRun struct {
	Engine string
	Events int // published in the stream
	// Recovery is from the SIGKILL to the restarted process's first result:
	// its first callback (goka), its first flush to Redis (inbond).
	Recovery time.Duration
	// Claimed is, for inbond, from the SIGKILL to the restarted process
	// holding every partition (its log's "partition claimed" lines).
	Claimed time.Duration
	// Reprocessed counts events whose result was made twice: callbacks run
	// again by the restarted goka on records the killed one had applied;
	// for inbond, events applied again to the stored state (see
	// ReprocessedNote).
	Reprocessed     int64
	ReprocessedNote string
	// ReadAgainAtMost bounds, for inbond, the events read and applied again
	// in memory after the restart (their first application was lost with
	// the process, never stored).
	ReadAgainAtMost int64
	// AppliedTwice is, for Kafka Streams, the records folded more than
	// once into the aggregate its changelog keeps (its Records count less
	// those published): the effect the processing guarantee is about.
	AppliedTwice int64
	StateMatches bool // its final state equals the uninterrupted runs'
}

func (r RestartRun) String() string {
	s := fmt.Sprintf("%-14s SIGKILL mid-stream (%d events): live again after %s", r.Engine, r.Events, r.Recovery.Round(time.Millisecond))
	if r.Claimed > 0 {
		s += fmt.Sprintf(" (every partition claimed after %s)", r.Claimed.Round(time.Millisecond))
	}
	s += fmt.Sprintf("; re-processed %d events", r.Reprocessed)
	if r.ReprocessedNote != "" {
		s += " (" + r.ReprocessedNote + ")"
	}
	return s + fmt.Sprintf("; final state equals the uninterrupted runs': %v", r.StateMatches)
}

// PeersResult is what one run of the benchmark measured.
type PeersResult struct {
	Best   map[string]PeerRun // per engine, the round with the best throughput
	Rounds [][]PeerRun
	// Compared is how many shipments' final states were compared between
	// goka and inbond (all of them equal, or Peers returns an error).
	Compared int
	// Aggregates is, per Kafka Streams engine, how many shipments'
	// aggregates read back from its changelog equal the same fields of
	// inbond's state (all of them, or Peers returns an error), and
	// AppliedTwice the records it folded into them more than once.
	Aggregates   map[string]int
	AppliedTwice map[string]int64
	Restarts     []RestartRun
}

// Ratio is engine's best throughput as a fraction of the ceiling's.
func (r PeersResult) Ratio(engine string) float64 {
	c := r.Best[EngineCeiling].PerSecond
	if c == 0 {
		return 0
	}
	return r.Best[engine].PerSecond / c
}

// Peers runs the benchmark against the field; see PeersConfig.
func Peers(ctx context.Context, cfg PeersConfig) (PeersResult, error) {
	if cfg.Events <= 0 {
		cfg.Events = 300_000
	}
	if cfg.Shipments <= 0 {
		cfg.Shipments = 1000
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20_000
	}
	if cfg.RestartRate <= 0 {
		cfg.RestartRate = 20_000
	}
	if cfg.GokaStorage == "" {
		cfg.GokaStorage = "memory"
	}
	b := &peerBench{cfg: cfg}
	res := PeersResult{Best: map[string]PeerRun{}, Aggregates: map[string]int{}, AppliedTwice: map[string]int64{}}
	kafkaDesc, stopKafka, err := b.startKafka(ctx)
	if err != nil {
		return res, err
	}
	defer stopKafka()
	defer cleanup(cfg.Redis, cfg.Prefix) //nolint:errcheck // best effort: the keys are under a prefix of their own
	if b.tmp, err = os.MkdirTemp("", "inbond-bench-peers-"); err != nil {
		return res, err
	}
	defer os.RemoveAll(b.tmp)
	if b.kc, err = b.newClient(); err != nil {
		return res, err
	}
	defer func() { b.kc.Close() }()

	envs, err := benchEvents(cfg.Shipments, cfg.Events)
	if err != nil {
		return res, err
	}
	part := bus.NewPartitioner(bus.DefaultPartitions)
	ids := map[event.ShipmentID]bool{}
	for _, e := range envs {
		v, err := event.Marshal(e)
		if err != nil {
			return res, err
		}
		b.recs = append(b.recs, record{key: []byte(e.Subject), value: v, part: int32(part.Partition([]byte(e.Subject)))})
		if !ids[e.Subject] {
			ids[e.Subject] = true
			b.ids = append(b.ids, e.Subject)
		}
	}
	live := cfg.Live
	if live <= 0 {
		live = min(len(b.recs)/5, int(4*cfg.Rate))
	}
	b.pre = len(b.recs) - min(live, len(b.recs)-1)
	if b.env, err = alerts.DefaultEnv(); err != nil {
		return res, err
	}
	b.say("inbond bench peers: %d events of %d shipments (%d preloaded, the last %d live at %.0f/s), %d partitions, %d rounds, on %s",
		len(b.recs), len(b.ids), b.pre, len(b.recs)-b.pre, cfg.Rate, bus.DefaultPartitions, cfg.Rounds, kafkaDesc)

	engines := []string{EngineCeiling}
	if cfg.GokaBinary != "" {
		engines = append(engines, EngineGoka)
	}
	ksEngines := []string{}
	if cfg.KStreamsLibs != "" {
		ksEngines = []string{EngineKStreamsEOS, EngineKStreamsALOS}
		engines = append(engines, ksEngines...)
	}
	engines = append(engines, EngineInbond)
	if cfg.RulesOff {
		engines = append(engines, EngineInbondNoRules)
	}
	if cfg.InbondBinary != "" {
		engines = append(engines, EngineInbondProcess)
	}
	envEngine := EngineInbondProcess + " " + strings.Join(cfg.ProcessEnv, " ")
	if len(cfg.ProcessEnv) > 0 && cfg.InbondBinary != "" {
		engines = append(engines, envEngine)
	}
	flushEngine := "inbond-flush" + cfg.FlushInterval.String()
	if cfg.FlushInterval > 0 {
		engines = append(engines, flushEngine)
	}
	var gokaTable map[string]json.RawMessage
	ksTables := map[string]map[string]ksAggregate{}
	var inbondStore *state.Store
	for round := range cfg.Rounds {
		last := round == cfg.Rounds-1
		var runs []PeerRun
		for _, name := range engines {
			var e peerEngine
			switch name {
			case EngineCeiling:
				e = &ceilingEngine{b: b}
			case EngineGoka:
				e = &gokaEngine{b: b, dump: last}
			case EngineKStreamsEOS, EngineKStreamsALOS:
				e = &kstreamsEngine{b: b, engine: name, dump: last}
			case EngineInbond, EngineInbondNoRules:
				e = &inbondEngine{b: b, rules: name == EngineInbond, keep: last && name == EngineInbond}
			case EngineInbondProcess:
				e = &inbondProcEngine{b: b}
			case envEngine:
				e = &inbondProcEngine{b: b, env: cfg.ProcessEnv}
			case flushEngine:
				e = &inbondEngine{b: b, rules: true, flushInterval: cfg.FlushInterval}
			}
			r, err := b.run(ctx, round, name, e)
			if err != nil {
				return res, fmt.Errorf("round %d, %s: %w", round+1, name, err)
			}
			b.say("round %d/%d %s", round+1, cfg.Rounds, r)
			runs = append(runs, r)
			if r.PerSecond > res.Best[name].PerSecond {
				res.Best[name] = r
			}
			switch e := e.(type) {
			case *gokaEngine:
				if e.table != nil {
					gokaTable = e.table
				}
			case *kstreamsEngine:
				if e.table != nil {
					ksTables[e.engine] = e.table
				}
			case *inbondEngine:
				if e.keep {
					inbondStore = e.store
				}
			}
		}
		res.Rounds = append(res.Rounds, runs)
	}
	if cfg.CPUProfile != "" {
		r, err := b.run(ctx, cfg.Rounds, EngineInbond, &inbondEngine{b: b, rules: true, profile: true})
		if err != nil {
			return res, fmt.Errorf("profiled pass: %w", err)
		}
		b.say("profiled   %s (CPU profile of the catch-up in %s)", r, cfg.CPUProfile)
	}
	if gokaTable != nil && inbondStore != nil {
		n, err := b.compare(ctx, "goka's table (read back from its changelog)", gokaTable, inbondStore)
		if err != nil {
			return res, err
		}
		res.Compared = n
		b.say("final state: goka's table and inbond's Redis hold the same %d shipments, byte for byte (state.Encode)", n)
	}
	for _, name := range ksEngines {
		if ksTables[name] == nil || inbondStore == nil {
			return res, fmt.Errorf("%s: no aggregates read back to compare", name)
		}
		n, twice, err := b.compareAggregates(ctx, name+"'s changelog", ksTables[name], inbondStore)
		if err != nil {
			return res, err
		}
		res.Aggregates[name], res.AppliedTwice[name] = n, twice
		b.say("final state: %s's changelog and inbond's Redis agree on the compared fields of all %d shipments; records folded more than once: %d", name, n, twice)
	}
	if cfg.Restart {
		if cfg.GokaBinary != "" {
			r, err := b.restartGoka(ctx, inbondStore)
			if err != nil {
				return res, fmt.Errorf("goka restart: %w", err)
			}
			b.say("%s", r)
			res.Restarts = append(res.Restarts, r)
		}
		for _, name := range ksEngines {
			r, err := b.restartKStreams(ctx, name, inbondStore)
			if err != nil {
				return res, fmt.Errorf("%s restart: %w", name, err)
			}
			b.say("%s", r)
			res.Restarts = append(res.Restarts, r)
		}
		if cfg.InbondBinary != "" {
			r, err := b.restartInbond(ctx, inbondStore)
			if err != nil {
				return res, fmt.Errorf("inbond restart: %w", err)
			}
			b.say("%s", r)
			res.Restarts = append(res.Restarts, r)
		}
	}
	b.say("best of %d rounds:", cfg.Rounds)
	for _, name := range engines {
		b.say("  %s  (%.2fx the ceiling)", res.Best[name], res.Ratio(name))
	}
	if g := res.Best[EngineGoka].PerSecond; g > 0 {
		b.say("inbond / goka = %.2f", res.Best[EngineInbond].PerSecond/g)
	}
	if k := res.Best[EngineKStreamsEOS].PerSecond; k > 0 {
		b.say("inbond / kstreams-eos = %.2f", res.Best[EngineInbond].PerSecond/k)
		if p := res.Best[EngineInbondProcess].PerSecond; p > 0 {
			b.say("inbond-process / kstreams-eos = %.2f (both child processes)", p/k)
		}
	}
	return res, nil
}

// record is one pre-generated event as published: key, value, and the
// partition inbond's writers give its key.
type record struct {
	key, value []byte
	part       int32
}

type peerBench struct {
	cfg     PeersConfig
	brokers []string
	kc      *kgo.Client
	tmp     string
	recs    []record
	ids     []event.ShipmentID
	pre     int // recs[:pre] are preloaded, recs[pre:] published live
	env     *alerts.Env
	seq     atomic.Int64
}

func (b *peerBench) say(format string, args ...any) {
	if b.cfg.Out != nil {
		fmt.Fprintf(b.cfg.Out, format+"\n", args...)
	}
}

// peerEngine is one of the engines measured.
type peerEngine interface {
	// start begins consuming topic from its start.
	start(ctx context.Context, topic string) error
	// progress is, per partition, the next offset without a result.
	progress(ctx context.Context) ([]int64, error)
	// stop ends the engine and returns when each record got its result
	// (unix ns), per partition and offset (0: none).
	stop(ctx context.Context) ([][]int64, error)
}

// run measures one engine on a topic of its own: the catch-up over the
// preloaded events, then the live ones.
func (b *peerBench) run(ctx context.Context, round int, name string, e peerEngine) (PeerRun, error) {
	topic := fmt.Sprintf("inbond-bench.%d.%s.%d", round, strings.NewReplacer(" ", "-", "=", "-").Replace(name), b.seq.Add(1))
	if _, ok := e.(*inbondProcEngine); ok {
		// `inbond process` reads no other topic: empty it (its records
		// deleted, its offsets going on) rather than create it again.
		topic = string(event.TopicEvents)
		if err := b.truncate(ctx, topic); err != nil {
			return PeerRun{}, err
		}
	} else {
		if err := bus.EnsureTopics(ctx, b.brokers, []bus.TopicSpec{{Topic: event.Topic(topic), Partitions: bus.DefaultPartitions}}); err != nil {
			return PeerRun{}, err
		}
		defer b.deleteTopics(topic)
	}
	if err := b.produce(ctx, topic, b.recs[:b.pre]); err != nil {
		return PeerRun{}, fmt.Errorf("preload %s: %w", topic, err)
	}
	preEnds, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return PeerRun{}, err
	}
	cpu0, rcpu0 := processCPU(), b.redisCPU(ctx)
	began := time.Now()
	if err := e.start(ctx, topic); err != nil {
		_, _ = e.stop(ctx)
		return PeerRun{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = e.stop(context.Background())
		}
	}()
	if err := b.waitFor(ctx, name+" catch-up", e, preEnds, 3*time.Minute); err != nil {
		return PeerRun{}, err
	}
	cpu, rcpu := processCPU()-cpu0, b.redisCPU(ctx)-rcpu0
	var flushes int64
	var childCPU time.Duration
	switch e := e.(type) {
	case *inbondEngine:
		flushes = e.flushes.Load()
	case *gokaEngine:
		childCPU = procCPU(e.child.cmd.Process.Pid)
	case *inbondProcEngine:
		childCPU = procCPU(e.child.cmd.Process.Pid)
	case *kstreamsEngine:
		childCPU = procCPU(e.childPID())
	}
	sent, err := b.publishLive(ctx, topic, b.recs[b.pre:], b.cfg.Rate, name+" live")
	if err != nil {
		return PeerRun{}, fmt.Errorf("publish live to %s: %w", topic, err)
	}
	liveEnds, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return PeerRun{}, err
	}
	if err := b.waitFor(ctx, name+" live", e, liveEnds, time.Minute); err != nil {
		return PeerRun{}, err
	}
	stopped = true
	stamps, err := e.stop(ctx)
	if err != nil {
		return PeerRun{}, err
	}
	var caught int64
	first := int64(math.MaxInt64)
	for p, end := range preEnds {
		if end == 0 {
			continue
		}
		t := at(stamps, p, end-1)
		if t == 0 {
			return PeerRun{}, fmt.Errorf("%s: no result for partition %d offset %d", name, p, end-1)
		}
		caught = max(caught, t)
		for off := range end {
			if t := at(stamps, p, off); t != 0 {
				first = min(first, t)
			}
		}
	}
	r := PeerRun{Engine: name, Events: b.pre, Elapsed: time.Unix(0, caught).Sub(began), LiveRate: b.cfg.Rate, CPU: cpu, RedisCPU: rcpu, Flushes: flushes, ChildCPU: childCPU}
	r.PerSecond = float64(r.Events) / r.Elapsed.Seconds()
	r.Startup = time.Unix(0, first).Sub(began)
	if d := time.Duration(caught - first); d > 0 {
		r.Steady = float64(r.Events) / d.Seconds()
	}
	var lat []time.Duration
	for _, s := range sent {
		if t := at(stamps, int(s.part), s.off); t != 0 {
			lat = append(lat, time.Duration(t-s.at))
		}
	}
	if len(lat) != len(sent) {
		return r, fmt.Errorf("%s: %d of %d live events have no result", name, len(sent)-len(lat), len(sent))
	}
	r.Live, r.Latency = len(lat), summarize(lat)
	return r, nil
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time process pid has used (/proc/pid/stat; 0 if
// unknown).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (in parentheses, which may hold spaces):
	// state is field 3, utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// redisCPU is the CPU time the Redis server has used (INFO cpu).
func (b *peerBench) redisCPU(ctx context.Context) time.Duration {
	info, err := b.cfg.Redis.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func at(stamps [][]int64, p int, off int64) int64 {
	if p >= len(stamps) || off < 0 || off >= int64(len(stamps[p])) {
		return 0
	}
	return stamps[p][off]
}

// waitFor returns once the engine has a result for every record below ends,
// printing a progress line every second.
func (b *peerBench) waitFor(ctx context.Context, what string, e peerEngine, ends []int64, limit time.Duration) error {
	var total int64
	for _, end := range ends {
		total += end
	}
	deadline := time.Now().Add(limit)
	nextSay := time.Now().Add(time.Second)
	for {
		next, err := e.progress(ctx)
		if err != nil {
			return err
		}
		var done int64
		caughtUp := len(next) >= len(ends)
		for p, end := range ends {
			n := int64(0)
			if p < len(next) {
				n = min(next[p], end)
			}
			done += n
			if n < end {
				caughtUp = false
			}
		}
		if caughtUp {
			return nil
		}
		if time.Now().After(nextSay) {
			b.say("  … %s: %d / %d", what, done, total)
			nextSay = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("%s: %d of %d records after %s (next %v, ends %v)", what, done, total, limit, next, ends)
			if d, ok := e.(interface{ diag() string }); ok {
				err = fmt.Errorf("%w; its log:\n%s", err, d.diag())
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// produce publishes recs to topic as fast as the client goes.
func (b *peerBench) produce(ctx context.Context, topic string, recs []record) error {
	var mu sync.Mutex
	var first error
	for _, r := range recs {
		b.kc.Produce(ctx, &kgo.Record{Topic: topic, Key: r.key, Value: r.value, Partition: r.part}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	if err := b.kc.Flush(ctx); err != nil {
		return err
	}
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// sentRecord is when a live record was handed to the producer, and where it
// landed.
type sentRecord struct {
	part int32
	off  int64
	at   int64 // unix ns
}

// publishLive publishes recs to topic at rate per second, in 1 ms steps,
// and returns when each was handed to the producer and where it landed.
func (b *peerBench) publishLive(ctx context.Context, topic string, recs []record, rate float64, what string) ([]sentRecord, error) {
	out := make([]sentRecord, len(recs))
	var mu sync.Mutex
	var first error
	began := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	nextSay := began.Add(time.Second)
	n := 0
	for n < len(recs) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case now := <-tick.C:
			due := min(len(recs), int(rate*now.Sub(began).Seconds())+1)
			t := time.Now().UnixNano()
			for ; n < due; n++ {
				i, r := n, recs[n]
				out[i].at = t
				b.kc.Produce(ctx, &kgo.Record{Topic: topic, Key: r.key, Value: r.value, Partition: r.part}, func(rec *kgo.Record, err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						first = cmpOr(first, err)
						return
					}
					out[i].part, out[i].off = rec.Partition, rec.Offset
				})
			}
			if now.After(nextSay) {
				b.say("  … %s: published %d / %d", what, n, len(recs))
				nextSay = now.Add(time.Second)
			}
		}
	}
	if err := b.kc.Flush(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return out, first
}

// deleteTopics deletes topics, best effort: a run's topics are large and
// the in-process cluster keeps them in memory.
func (b *peerBench) deleteTopics(topics ...string) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 10_000
	for _, t := range topics {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _ = req.RequestWith(ctx, b.kc)
}

// newClient is the producer of the benchmark's records: partitions set by
// the caller (inbond's murmur2), no linger, no compression.
func (b *peerBench) newClient() (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(50_000), kgo.ProducerBatchCompression(kgo.NoCompression()))
}

// truncate deletes every record of topic (DeleteRecords to the high
// watermark): the next consumer group starts where they ended.
func (b *peerBench) truncate(ctx context.Context, topic string) error {
	ends, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 10_000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	for p, end := range ends {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = int32(p), end
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.kc)
	if err != nil {
		return fmt.Errorf("delete the records of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("delete the records of %s partition %d: %w", topic, p.Partition, err)
			}
		}
	}
	return nil
}

// stampBook records, per partition and offset, when a result came, written
// by one goroutine per partition (or one for all) and read after stop.
type stampBook struct {
	t    [][]int64
	next []atomic.Int64
}

func newStampBook(parts int) *stampBook {
	return &stampBook{t: make([][]int64, parts), next: make([]atomic.Int64, parts)}
}

// mark records t for offsets [from, to) of partition p.
func (s *stampBook) mark(p int, from, to, t int64) {
	for int64(len(s.t[p])) < to {
		s.t[p] = append(s.t[p], 0)
	}
	for o := max(from, 0); o < to; o++ {
		if s.t[p][o] == 0 {
			s.t[p][o] = t
		}
	}
	if to > s.next[p].Load() {
		s.next[p].Store(to)
	}
}

func (s *stampBook) progress() []int64 {
	out := make([]int64, len(s.next))
	for p := range out {
		out[p] = s.next[p].Load()
	}
	return out
}

// ceilingEngine is the log's ceiling: one reader per partition, with the
// processor's reader settings, fetching and discarding every record.
type ceilingEngine struct {
	b      *peerBench
	book   *stampBook
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (c *ceilingEngine) start(ctx context.Context, topic string) error {
	c.book = newStampBook(bus.DefaultPartitions)
	ctx, c.cancel = context.WithCancel(ctx)
	for p := range bus.DefaultPartitions {
		c.wg.Go(func() {
			r := bus.PartitionReader(c.b.brokers, topic, p, baselineQueue, nil)
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				c.book.mark(p, m.Offset, m.Offset+1, time.Now().UnixNano())
			}
		})
	}
	return nil
}

func (c *ceilingEngine) progress(context.Context) ([]int64, error) { return c.book.progress(), nil }

func (c *ceilingEngine) stop(context.Context) ([][]int64, error) {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return c.book.t, nil
}

// inbondEngine is the processor, assembled as `inbond process` assembles it,
// in this process. A record has its result when the partition's offset
// stored in Redis passes it: its event is applied and durable.
type inbondEngine struct {
	b       *peerBench
	rules   bool
	keep    bool // keep the state in Redis for the comparison
	profile bool
	store   *state.Store
	sys     *System
	book    *stampBook
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	prof    *os.File
	pollErr atomic.Pointer[error]
	flushes atomic.Int64
	// flushInterval is the processor's (0: its default).
	flushInterval time.Duration
}

func (e *inbondEngine) start(ctx context.Context, topic string) error {
	prefix := fmt.Sprintf("%s%s:", e.b.cfg.Prefix, topic)
	var env *alerts.Env
	if e.rules {
		env = e.b.env
	}
	e.book = newStampBook(bus.DefaultPartitions)
	e.kick = make(chan struct{}, 1)
	if e.profile {
		f, err := os.Create(e.b.cfg.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		e.prof = f
	}
	sys, err := Start(ctx, Config{
		Kafka: Kafka{Brokers: e.b.brokers},
		Redis: Redis{Client: e.b.cfg.Redis, Prefix: prefix},
		Process: &processor.Config{
			Group: "bench-" + topic, Owner: "bench", Topic: event.Topic(topic), SessionTimeout: 6 * time.Second,
			Alerts: env, FrozenClock: true, FlushInterval: e.flushInterval,
			OnFlush: func(time.Duration, int, int) {
				e.flushes.Add(1)
				select {
				case e.kick <- struct{}{}:
				default:
				}
			},
		},
	})
	if err != nil {
		return err
	}
	e.sys, e.store = sys, sys.Store
	pctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		e.poll(pctx)
	}()
	return nil
}

// poll reads the stored offsets after every flush (and every 5 ms) and
// stamps the records they passed.
func (e *inbondEngine) poll(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		case <-time.After(5 * time.Millisecond):
		}
		pipe := e.b.cfg.Redis.Pipeline()
		cmds := make([]*redis.StringCmd, bus.DefaultPartitions)
		for p := range cmds {
			cmds[p] = pipe.HGet(ctx, e.store.OffsetKey(p), "offset")
		}
		_, _ = pipe.Exec(ctx)
		now := time.Now().UnixNano()
		for p, c := range cmds {
			off, err := c.Int64()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					e.pollErr.Store(&err)
				}
				continue
			}
			if from := e.book.next[p].Load(); off > from {
				e.book.mark(p, from, off, now)
			}
		}
	}
}

func (e *inbondEngine) progress(context.Context) ([]int64, error) {
	select {
	case <-e.sys.Ended():
		return nil, fmt.Errorf("processor stopped: %v", e.sys.Stop())
	default:
	}
	if err := e.pollErr.Load(); err != nil {
		return nil, *err
	}
	if e.prof != nil && caughtAll(e.book.progress(), e.b.pre) {
		pprof.StopCPUProfile()
		e.prof.Close()
		e.prof = nil
	}
	return e.book.progress(), nil
}

func caughtAll(next []int64, pre int) bool {
	var n int64
	for _, x := range next {
		n += x
	}
	return n >= int64(pre)
}

func (e *inbondEngine) stop(context.Context) ([][]int64, error) {
	if e.prof != nil {
		pprof.StopCPUProfile()
		e.prof.Close()
		e.prof = nil
	}
	var err error
	if e.sys != nil {
		err = e.sys.Stop()
	}
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	if !e.keep && e.store != nil {
		_ = e.store.DeletePrefix(context.Background())
	}
	return e.book.t, err
}

// gokaEngine is the peer built from bench/goka, as a child process.
type gokaEngine struct {
	b     *peerBench
	dump  bool // read its table back before its topics are deleted
	table map[string]json.RawMessage
	group string
	times string
	child *peerChild
}

func (g *gokaEngine) start(_ context.Context, topic string) error {
	g.group = "bench-goka-" + topic
	g.times = filepath.Join(g.b.tmp, g.group+".times")
	var err error
	g.child, err = g.b.startGoka(topic, g.group, "--times", g.times)
	return err
}

func (g *gokaEngine) progress(context.Context) ([]int64, error) { return g.child.progress() }

func (g *gokaEngine) diag() string { return g.child.stderr.String() }

func (g *gokaEngine) stop(ctx context.Context) ([][]int64, error) {
	defer g.b.deleteTopics(g.group + "-table")
	if g.child == nil {
		return nil, nil
	}
	if err := g.child.terminate(); err != nil {
		return nil, err
	}
	stamps, err := readTimes(g.times)
	if err != nil {
		return nil, err
	}
	if g.dump {
		if g.table, err = g.b.dumpGoka(ctx, g.group); err != nil {
			return nil, err
		}
	}
	return stamps, nil
}

// readTimes reads the peer's --times file: (partition, offset, unix ns)
// triples of little-endian int64s.
func readTimes(path string) ([][]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	stamps := make([][]int64, bus.DefaultPartitions)
	for ; len(b) >= 24; b = b[24:] {
		p := int(binary.LittleEndian.Uint64(b))
		off := int64(binary.LittleEndian.Uint64(b[8:]))
		t := int64(binary.LittleEndian.Uint64(b[16:]))
		if p < 0 || p >= len(stamps) || off < 0 {
			return nil, fmt.Errorf("%s: record of partition %d offset %d", path, p, off)
		}
		for int64(len(stamps[p])) <= off {
			stamps[p] = append(stamps[p], 0)
		}
		if stamps[p][off] == 0 { // at-least-once: the first result counts
			stamps[p][off] = t
		}
	}
	return stamps, nil
}

// peerReport is a line of the goka peer's stdout (bench/goka).
type peerReport struct {
	Ev        string  `json:"ev"`
	T         int64   `json:"t"`
	N         int64   `json:"n"`
	Next      []int64 `json:"next"`
	Misrouted int64   `json:"misrouted"`
}

// peerChild is a running goka peer or inbond process.
type peerChild struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	last   peerReport
	first  int64 // unix ns of its first result ("first" line)
	stderr *tailBuffer
	exited chan struct{}
	err    error
}

// readPeerReport takes a line a peer (goka, Kafka Streams) writes: its
// first result and its latest progress, as JSON; other lines are ignored.
func readPeerReport(c *peerChild, line string) {
	var r peerReport
	if json.Unmarshal([]byte(line), &r) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.Ev {
	case "first":
		c.first = r.T
	case "progress":
		c.last = r
	}
}

// startGoka starts the goka peer on topic as consumer group group.
func (b *peerBench) startGoka(topic, group string, extra ...string) (*peerChild, error) {
	if err := b.ensureServed(group+"-table", map[string]string{"cleanup.policy": "compact"}); err != nil {
		return nil, err
	}
	args := append([]string{"--brokers", strings.Join(b.brokers, ","), "--topic", topic, "--group", group,
		"--partitions", strconv.Itoa(bus.DefaultPartitions), "--storage", b.cfg.GokaStorage, "--dir", filepath.Join(b.tmp, group+".leveldb")}, extra...)
	return startChild(b.cfg.GokaBinary, args, readPeerReport)
}

// startChild starts a child process, handing each line it writes, stdout
// and stderr, to onLine; the last 64 KiB of its stderr stay for errors.
func startChild(bin string, args []string, onLine func(*peerChild, string), env ...string) (*peerChild, error) {
	c := &peerChild{cmd: exec.Command(bin, args...), stderr: &tailBuffer{max: 4 << 20}, exited: make(chan struct{})}
	if len(env) > 0 {
		c.cmd.Env = append(os.Environ(), env...)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errOut, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	scan := func(r io.Reader, tail io.Writer) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if tail != nil {
				_, _ = fmt.Fprintln(tail, sc.Text())
			}
			onLine(c, sc.Text())
		}
	}
	wg.Go(func() { scan(out, nil) })
	wg.Go(func() { scan(errOut, c.stderr) })
	go func() {
		wg.Wait() // both pipes read to their end before Wait closes them
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// running reports whether the child has not exited yet.
func (c *peerChild) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *peerChild) progress() ([]int64, error) {
	select {
	case <-c.exited:
		return nil, fmt.Errorf("%s exited: %v\n%s", filepath.Base(c.cmd.Path), c.err, c.stderr)
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.Misrouted > 0 {
		return nil, fmt.Errorf("the goka peer met %d records its hasher puts in another partition", c.last.Misrouted)
	}
	return slices.Clone(c.last.Next), nil
}

// terminate asks the child to stop (SIGTERM) and waits for it.
func (c *peerChild) terminate() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within 30 s after SIGTERM\n%s", filepath.Base(c.cmd.Path), c.stderr)
	}
	if c.err != nil {
		return fmt.Errorf("%s: %v\n%s", filepath.Base(c.cmd.Path), c.err, c.stderr)
	}
	return nil
}

// kill sends SIGKILL and reaps the child.
func (c *peerChild) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// dumpGoka reads the peer's group table back from its changelog.
func (b *peerBench) dumpGoka(ctx context.Context, group string) (map[string]json.RawMessage, error) {
	path := filepath.Join(b.tmp, group+".dump.json")
	cmd := exec.CommandContext(ctx, b.cfg.GokaBinary, "--brokers", strings.Join(b.brokers, ","), "--group", group, "--dump", path)
	var stderr tailBuffer
	stderr.max = 64 << 10
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("goka peer --dump: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var table map[string]json.RawMessage
	return table, json.Unmarshal(raw, &table)
}

// byPartition is the benchmark's shipments by the partition of
// inbond.events their key is routed to.
func (b *peerBench) byPartition() map[int][]event.ShipmentID {
	byPart := map[int][]event.ShipmentID{}
	for _, id := range b.ids {
		p := bus.PartitionOf([]byte(id), bus.DefaultPartitions)
		byPart[p] = append(byPart[p], id)
	}
	return byPart
}

// compare checks that table (shipment ID to state.Encode bytes) holds
// exactly the shipments of the events with the states store holds, and
// returns how many it compared.
func (b *peerBench) compare(ctx context.Context, what string, table map[string]json.RawMessage, store *state.Store) (int, error) {
	byPart := b.byPartition()
	var diffs []string
	n := 0
	for p, ids := range byPart {
		got, err := store.Load(ctx, p, ids)
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			sh := got[id]
			theirs, ok := table[string(id)]
			switch {
			case sh == nil && !ok:
				diffs = append(diffs, fmt.Sprintf("%s: in neither", id))
				continue
			case sh == nil:
				diffs = append(diffs, fmt.Sprintf("%s: missing from inbond", id))
				continue
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s: missing from %s", id, what))
				continue
			}
			ours, err := state.Encode(sh)
			if err != nil {
				return 0, err
			}
			if !bytes.Equal(ours, theirs) {
				diffs = append(diffs, fmt.Sprintf("%s: differs:\n inbond %s\n other  %s", id, ours, theirs))
				continue
			}
			n++
		}
	}
	return n, differences(what, len(table), n, diffs)
}

// differences is a comparison's verdict: nil when all of a table of size
// entries matched (n) and none differed (diffs), else the error naming how
// many differ, with the first in sorted order.
func differences(what string, size, n int, diffs []string) error {
	if extra := size - n - len(diffs); extra > 0 {
		diffs = append(diffs, fmt.Sprintf("%s holds %d shipments the events do not name", what, extra))
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("final state: %s and inbond differ on %d shipments; first: %s", what, len(diffs), diffs[0])
	}
	return nil
}

// streamAll publishes every event to topic at rate in the background; the
// returned channel receives the error (or nil) once all are acknowledged.
func (b *peerBench) streamAll(ctx context.Context, topic string, rate float64, published *atomic.Int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		began := time.Now()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var mu sync.Mutex
		var first error
		n := 0
		for n < len(b.recs) {
			select {
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case now := <-tick.C:
				due := min(len(b.recs), int(rate*now.Sub(began).Seconds())+1)
				for ; n < due; n++ {
					r := b.recs[n]
					b.kc.Produce(ctx, &kgo.Record{Topic: topic, Key: r.key, Value: r.value, Partition: r.part}, func(_ *kgo.Record, err error) {
						if err != nil {
							mu.Lock()
							first = cmpOr(first, err)
							mu.Unlock()
						}
					})
				}
				published.Store(int64(n))
			}
		}
		err := b.kc.Flush(ctx)
		mu.Lock()
		defer mu.Unlock()
		done <- cmpOr(err, first)
	}()
	return done
}

// killPoint waits until published reaches 40% of the events.
func (b *peerBench) killPoint(ctx context.Context, published *atomic.Int64) error {
	for published.Load() < int64(len(b.recs))*2/5 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// readMarks reads the peer's --marks file: per partition, the last offset
// applied, the first offset this process applied, and its count.
func readMarks(path string) (last, first, count []int64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	for p := 0; p < bus.DefaultPartitions && len(b) >= 24*(p+1); p++ {
		o := b[24*p:]
		last = append(last, int64(binary.LittleEndian.Uint64(o)))
		first = append(first, int64(binary.LittleEndian.Uint64(o[8:])))
		count = append(count, int64(binary.LittleEndian.Uint64(o[16:])))
	}
	return last, first, count, nil
}

// reprocessed counts the records both processes applied: per partition, from
// the restarted one's first offset to the killed one's last.
func reprocessed(last1, first2 []int64) int64 {
	var n int64
	for p := range min(len(last1), len(first2)) {
		if last1[p] >= 0 && first2[p] >= 0 && first2[p] <= last1[p] {
			n += last1[p] - first2[p] + 1
		}
	}
	return n
}

// restartGoka streams every event into a new topic while the peer runs,
// SIGKILLs it at 40% of the stream, restarts it, and measures the time
// until its first callback and the callbacks run twice.
func (b *peerBench) restartGoka(ctx context.Context, reference *state.Store) (RestartRun, error) {
	r := RestartRun{Engine: EngineGoka, Events: len(b.recs)}
	topic := fmt.Sprintf("inbond-bench.restart.goka.%d", b.seq.Add(1))
	group := "bench-goka-" + topic
	if err := bus.EnsureTopics(ctx, b.brokers, []bus.TopicSpec{{Topic: event.Topic(topic), Partitions: bus.DefaultPartitions}}); err != nil {
		return r, err
	}
	defer b.deleteTopics(topic, group+"-table")
	marks1, marks2 := filepath.Join(b.tmp, group+".marks1"), filepath.Join(b.tmp, group+".marks2")
	c1, err := b.startGoka(topic, group, "--marks", marks1)
	if err != nil {
		return r, err
	}
	var published atomic.Int64
	streamed := b.streamAll(ctx, topic, b.cfg.RestartRate, &published)
	if err := b.killPoint(ctx, &published); err != nil {
		c1.kill()
		return r, err
	}
	c1.kill()
	killed := time.Now()
	last1, _, count1, err := readMarks(marks1)
	if err != nil {
		return r, err
	}
	c2, err := b.startGoka(topic, group, "--marks", marks2)
	if err != nil {
		return r, err
	}
	defer func() {
		if c2.running() {
			c2.kill()
		}
	}()
	if err := <-streamed; err != nil {
		return r, err
	}
	ends, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return r, err
	}
	// The restarted peer's progress counts only what it applied; partitions
	// the killed one finished and committed it never sees again.
	view := &restartProgress{child: c2, last1: last1}
	if err := b.waitFor(ctx, "goka after SIGKILL", view, ends, 3*time.Minute); err != nil {
		return r, err
	}
	c2.mu.Lock()
	first := c2.first
	c2.mu.Unlock()
	if err := c2.terminate(); err != nil {
		return r, err
	}
	_, first2, _, err := readMarks(marks2)
	if err != nil {
		return r, err
	}
	r.Recovery = time.Unix(0, first).Sub(killed)
	r.Reprocessed = reprocessed(last1, first2)
	var applied1 int64
	for _, n := range count1 {
		applied1 += n
	}
	r.ReprocessedNote = fmt.Sprintf("callbacks run again on records the killed peer had applied; it had applied %d", applied1)
	if reference != nil {
		table, err := b.dumpGoka(ctx, group)
		if err != nil {
			return r, err
		}
		if _, err := b.compare(ctx, "goka's table after the SIGKILL", table, reference); err != nil {
			return r, err
		}
		r.StateMatches = true
	}
	return r, nil
}

// succeed starts the killed peer's successor at once, as a supervisor
// would, and reads where the killed one left its progress 50 ms later:
// once a write it had in flight is done, and long before the successor can
// write (it first waits for the dead member's session, 1 s, to expire).
// stop kills the successor if it still runs.
func succeed(ctx context.Context, start func() (*peerChild, error), progress func(context.Context) ([]int64, error)) (c2 *peerChild, before []int64, stop func(), err error) {
	if c2, err = start(); err != nil {
		return nil, nil, nil, err
	}
	stop = func() {
		if c2.running() {
			c2.kill()
		}
	}
	time.Sleep(50 * time.Millisecond)
	if before, err = progress(ctx); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return c2, before, stop, nil
}

// restartProgress is a restarted peer's progress, with the partitions the
// killed one had finished counted as done.
type restartProgress struct {
	child *peerChild
	last1 []int64
}

func (v *restartProgress) start(context.Context, string) error { return nil }
func (v *restartProgress) stop(context.Context) ([][]int64, error) {
	return nil, nil
}
func (v *restartProgress) progress(context.Context) ([]int64, error) {
	next, err := v.child.progress()
	if err != nil {
		return nil, err
	}
	next = append(next, make([]int64, max(0, len(v.last1)-len(next)))...)
	for p := range next {
		if p < len(v.last1) {
			next[p] = max(next[p], v.last1[p]+1)
		}
	}
	return next, nil
}

// restartInbond does the same with `inbond process` as a child process on
// inbond.events: the time from the SIGKILL to the restarted process's first
// flush, and the final state.
func (b *peerBench) restartInbond(ctx context.Context, reference *state.Store) (RestartRun, error) {
	r := RestartRun{Engine: EngineInbond, Events: len(b.recs)}
	prefix := b.cfg.Prefix + "restart:"
	store, err := state.NewStore(b.cfg.Redis, prefix)
	if err != nil {
		return r, err
	}
	defer store.DeletePrefix(context.Background()) //nolint:errcheck // best effort
	topic := string(event.TopicEvents)
	if err := b.truncate(ctx, topic); err != nil {
		return r, err
	}
	base, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return r, err
	}
	var claims atomic.Int64
	var claimedAt atomic.Int64
	start := func(owner string) (*peerChild, error) {
		return startChild(b.cfg.InbondBinary, []string{"process", "--kafka-brokers", strings.Join(b.brokers, ","),
			"--redis", b.cfg.Redis.Options().Addr, "--redis-db", strconv.Itoa(b.cfg.Redis.Options().DB),
			"--key-prefix", prefix, "--group", "bench-restart", "--owner", owner, "--session-timeout", "1s",
			"--metrics-addr", "", "--log-format", "json", "--rules=true", "--ledger=true"}, func(_ *peerChild, line string) {
			if strings.Contains(line, `"partition claimed"`) && strings.Contains(line, `"`+owner+`"`) {
				if claims.Add(1) == bus.DefaultPartitions {
					claimedAt.Store(time.Now().UnixNano())
				}
			}
		})
	}
	c1, err := start("restart-1")
	if err != nil {
		return r, err
	}
	var published atomic.Int64
	streamed := b.streamAll(ctx, topic, b.cfg.RestartRate, &published)
	if err := b.killPoint(ctx, &published); err != nil {
		c1.kill()
		return r, err
	}
	c1.kill()
	killed := time.Now()
	publishedAtKill := published.Load()
	claims.Store(0)
	// Where the killed one left Redis: a flush it had in flight is a
	// script Redis runs whether or not its sender still lives.
	c2, before, stopC2, err := succeed(ctx, func() (*peerChild, error) { return start("restart-2") },
		func(ctx context.Context) ([]int64, error) { return store.Offsets(ctx, bus.DefaultPartitions) })
	if err != nil {
		return r, err
	}
	defer stopC2()
	var stored int64
	for p, off := range before {
		stored += max(off-base[p], 0)
	}
	// Live again: the first stored offset past where the killed one left it.
	var live time.Time
	for live.IsZero() {
		offs, err := store.Offsets(ctx, bus.DefaultPartitions)
		if err != nil {
			return r, err
		}
		for p := range offs {
			if offs[p] > before[p] {
				live = time.Now()
			}
		}
		select {
		case <-c2.exited:
			return r, fmt.Errorf("inbond process exited: %v\n%s", c2.err, c2.stderr)
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Since(killed) > 2*time.Minute {
			return r, fmt.Errorf("no flush within 2 minutes of the restart\n%s", c2.stderr)
		}
	}
	r.Recovery = live.Sub(killed)
	if err := <-streamed; err != nil {
		return r, err
	}
	ends, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return r, err
	}
	if err := b.waitFor(ctx, "inbond after SIGKILL", &storedProgress{store: store, child: c2}, ends, 3*time.Minute); err != nil {
		return r, err
	}
	if t := claimedAt.Load(); t != 0 {
		r.Claimed = time.Unix(0, t).Sub(killed)
	}
	if err := c2.terminate(); err != nil {
		return r, err
	}
	r.Reprocessed = 0
	r.ReprocessedNote = fmt.Sprintf("applied twice to the stored state: none, since state and offset are written in one atomic flush and the restart resumes at the stored offset; "+
		"read again: the events the killed process had applied in memory since its last flush, at most %d (published before the kill, %d, less those stored, %d)",
		max(publishedAtKill-stored, 0), publishedAtKill, stored)
	r.ReadAgainAtMost = max(publishedAtKill-stored, 0)
	if reference != nil {
		table := map[string]json.RawMessage{}
		byPart := b.byPartition()
		for p, ids := range byPart {
			got, err := store.Load(ctx, p, ids)
			if err != nil {
				return r, err
			}
			for id, sh := range got {
				if table[string(id)], err = state.Encode(sh); err != nil {
					return r, err
				}
			}
		}
		if _, err := b.compare(ctx, "inbond's state after the SIGKILL", table, reference); err != nil {
			return r, err
		}
		r.StateMatches = true
	}
	return r, nil
}

// storedProgress is an inbond child's progress: its stored offsets.
type storedProgress struct {
	store *state.Store
	child *peerChild
}

func (s *storedProgress) start(context.Context, string) error     { return nil }
func (s *storedProgress) stop(context.Context) ([][]int64, error) { return nil, nil }
func (s *storedProgress) progress(ctx context.Context) ([]int64, error) {
	select {
	case <-s.child.exited:
		return nil, fmt.Errorf("inbond process exited: %v\n%s", s.child.err, s.child.stderr)
	default:
	}
	return s.store.Offsets(ctx, bus.DefaultPartitions)
}

// inbondProcEngine is `inbond process` as a child process, as the goka peer
// runs: its own heap and garbage collector, on inbond.events (the only topic
// it reads), with the ledger off like the in-process runs. A record has its result when the stored offset passes it,
// polled every 2 ms.
type inbondProcEngine struct {
	b      *peerBench
	rules  bool
	env    []string // added to the child's environment
	store  *state.Store
	child  *peerChild
	book   *stampBook
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *inbondProcEngine) start(_ context.Context, topic string) error {
	seq := e.b.seq.Add(1)
	prefix := fmt.Sprintf("%sproc%d:", e.b.cfg.Prefix, seq)
	var err error
	if e.store, err = state.NewStore(e.b.cfg.Redis, prefix); err != nil {
		return err
	}
	env := e.env
	e.child, err = startChild(e.b.cfg.InbondBinary, []string{"process", "--kafka-brokers", strings.Join(e.b.brokers, ","),
		"--redis", e.b.cfg.Redis.Options().Addr, "--redis-db", strconv.Itoa(e.b.cfg.Redis.Options().DB),
		"--key-prefix", prefix, "--group", fmt.Sprintf("bench-proc-%d", seq), "--owner", "bench",
		"--metrics-addr", "", "--log-format", "json", "--log-level", "warn", "--rules=" + strconv.FormatBool(e.rules),
		"--ledger=false"}, // the peer's job: no hash chain (the ledger's cost is measured on its own)
		func(*peerChild, string) {}, env...)
	if err != nil {
		return err
	}
	e.book = newStampBook(bus.DefaultPartitions)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		for ctx.Err() == nil {
			offs, err := e.store.Offsets(ctx, bus.DefaultPartitions)
			now := time.Now().UnixNano()
			if err == nil {
				for p, off := range offs {
					if from := e.book.next[p].Load(); off > from {
						e.book.mark(p, from, off, now)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	_ = topic
	return nil
}

func (e *inbondProcEngine) progress(context.Context) ([]int64, error) {
	if !e.child.running() {
		return nil, fmt.Errorf("inbond process exited: %v\n%s", e.child.err, e.child.stderr)
	}
	return e.book.progress(), nil
}

func (e *inbondProcEngine) diag() string { return e.child.stderr.String() }

func (e *inbondProcEngine) stop(context.Context) ([][]int64, error) {
	var err error
	if e.child != nil {
		err = e.child.terminate()
	}
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	if e.store != nil {
		_ = e.store.DeletePrefix(context.Background())
	}
	if e.book == nil {
		return nil, err
	}
	return e.book.t, err
}

package main

import (
	"context"
	"flag"
	"os"
	"runtime/debug"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// redisFlags are the Redis connection flags of the commands that use state.
type redisFlags struct {
	addr, passwordFile, prefix string
	db                         int
}

func (r *redisFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.addr, "redis", "127.0.0.1:6379", "Redis address (host:port)")
	fs.IntVar(&r.db, "redis-db", 0, "Redis database number")
	fs.StringVar(&r.passwordFile, "redis-password-file", "", "file holding the Redis password (optional)")
	fs.StringVar(&r.prefix, "key-prefix", "inbond:", "prefix of every Redis key inbond writes")
}

// config is the Redis the flags name, the password read from its file.
func (r *redisFlags) config() (pipeline.Redis, error) {
	password, err := readSecret(r.passwordFile, "redis password")
	return pipeline.Redis{Addr: r.addr, DB: r.db, Password: password, Prefix: r.prefix}, err
}

// store connects to the Redis the flags name and opens the state store
// under the flags' prefix; close closes the client.
func (r *redisFlags) store() (store *state.Store, close func() error, err error) {
	rdb, err := r.client()
	if err != nil {
		return nil, nil, err
	}
	if store, err = state.NewStore(rdb, r.prefix); err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	return store, rdb.Close, nil
}

// client connects to the Redis the flags name.
func (r *redisFlags) client() (*redis.Client, error) {
	cfg, err := r.config()
	if err != nil {
		return nil, err
	}
	return redis.NewClient(&redis.Options{Addr: cfg.Addr, DB: cfg.DB, Password: cfg.Password}), nil
}

func processCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond process", flag.ExitOnError)
	var c common
	c.register(fs, ":9465")
	var rf redisFlags
	rf.register(fs)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	group := fs.String("group", "inbond-processor", "consumer group of the processor instances")
	owner := fs.String("owner", "", "name of this instance in partition claims and logs (default hostname-pid)")
	interval := fs.Duration("flush-interval", 0, "longest time applied events stay only in memory (default 100ms)")
	events := fs.Int("flush-events", 0, "flush early after this many events (default 5000)")
	cache := fs.Int("cache-shipments", 0, "shipments each partition keeps in memory; clean ones beyond it are evicted, least recently used first, and reloaded from Redis when met again (default 10000)")
	rules := fs.Bool("rules", true, "run the deviation rules and publish alert transitions to inbond.alerts")
	rulesConfig := fs.String("rules-config", "", "YAML file of the rules' thresholds, severities and disabled rules (default: DESIGN.md's limits)")
	chain := fs.Bool("ledger", true, "hash-chain every shipment's records and publish ledger checkpoints to inbond.checkpoints for `inbond anchor`")
	every := fs.Duration("checkpoint-interval", 0, "how often each partition cuts a ledger checkpoint of the shipments it changed (default 10s)")
	stall := fs.Duration("stall-after", 0, "report a partition as processed by nobody (warning, inbond_processor_stalled_partitions) when it stays behind the log with its stored position unmoved this long (default 30s; negative disables)")
	session := fs.Duration("session-timeout", 0, "consumer-group session timeout: how long a silent instance keeps its partitions (default 10s)")
	gcPercent := fs.Int("gc-percent", 400, "the Go GC target (GOGC) of the processor; the GOGC environment variable wins when set. 400 gave 13-20% more events/s than Go's 100 (BENCHMARKS.md, issue 20) for more heap between collections")
	return command("process", "inbond process [flags]",
		"Run a processor instance: apply inbond.events to each shipment's state in Redis, exactly once, with the partitions it is assigned.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			if _, set := os.LookupEnv("GOGC"); !set {
				debug.SetGCPercent(*gcPercent)
			}
			rc, err := rf.config()
			if err != nil {
				return err
			}
			var env *alerts.Env
			if *rules {
				if env, err = alerts.LoadEnv(*rulesConfig); err != nil {
					return err
				}
			}
			return pipeline.Run(ctx, pipeline.Config{
				Kafka: pipeline.Kafka{Brokers: splitList(*brokers)},
				Redis: rc,
				Process: &processor.Config{
					Group: *group, Owner: *owner,
					FlushInterval: *interval, FlushEvents: *events, SessionTimeout: *session, CacheShipments: *cache, StallAfter: *stall, Alerts: env,
					Ledger: *chain, CheckpointInterval: *every,
				},
				MetricsAddr: c.metricsAddr,
				Log:         log,
			})
		}))
}

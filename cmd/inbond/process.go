package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/inbond/inbond/internal/obs"
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

func (r *redisFlags) client() (*redis.Client, error) {
	opts := &redis.Options{Addr: r.addr, DB: r.db}
	if r.passwordFile != "" {
		b, err := os.ReadFile(r.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password: %w", err)
		}
		opts.Password = strings.TrimSpace(string(b))
	}
	return redis.NewClient(opts), nil
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
	session := fs.Duration("session-timeout", 0, "consumer-group session timeout: how long a silent instance keeps its partitions (default 10s)")
	return command("process", "inbond process [flags]",
		"Run a processor instance: apply inbond.events to each shipment's state in Redis, exactly once, with the partitions it is assigned.",
		fs, func(ctx context.Context, _ []string) error {
			log, err := c.logger()
			if err != nil {
				return err
			}
			defer log.Sync() //nolint:errcheck // best effort on exit
			rdb, err := rf.client()
			if err != nil {
				return err
			}
			defer rdb.Close()
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("redis %s: %w", rf.addr, err)
			}
			reg := obs.NewRegistry()
			if _, err := obs.ServeMetrics(ctx, c.metricsAddr, reg, log); err != nil {
				return err
			}
			p, err := processor.New(processor.Config{
				Brokers: splitList(*brokers), Group: *group, Owner: *owner,
				FlushInterval: *interval, FlushEvents: *events, SessionTimeout: *session,
				Store: state.NewStore(rdb, rf.prefix), Metrics: processor.NewMetrics(reg), Log: log,
			})
			if err != nil {
				return err
			}
			log.Info("processor starting", zap.String("redis", rf.addr), zap.String("prefix", rf.prefix))
			return p.Run(ctx)
		})
}

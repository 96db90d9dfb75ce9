package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

// apiTokensEnv holds extra tokens in plain text, "role=token" comma-separated.
// It is read from the environment only: a flag's value shows in ps.
const apiTokensEnv = "INBOND_API_TOKENS"

// apiCommand serves the HTTP API and the dashboard over the state in Redis,
// the archive on Kafka and the ledger's log.
func apiCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond api", flag.ExitOnError)
	var c common
	c.register(fs, "")
	var rf redisFlags
	rf.register(fs)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated: the archive, the stream's topics, and where manifests and alert commands are written")
	partitions := fs.Int("partitions", 0, "partitions of inbond.events (default: the topic's default, 12)")
	listen := fs.String("listen", "127.0.0.1:8490", "HTTP address of the API (/v1/...), the dashboard (/), /healthz, /readyz and /metrics")
	tokenFile := fs.String("token-file", defaultTokenFile(), "file of the accepted tokens' SHA-256 hashes, one \"role hash [name]\" a line (roles: cbp, doe, carrier:SCAC); created 0600 with one new cbp token, printed once, when missing. More tokens in plain text come from $"+apiTokensEnv+" as role=token,role=token")
	rateLimit := fs.Float64("rate-limit", 50, "requests per second each token may sustain (negative disables)")
	burst := fs.Int("burst", 100, "requests a token may make at once above its rate")
	ledgerLog := fs.String("ledger-log", "", "the transparency log: the anchor's --log-dir or its HTTP root, e.g. http://127.0.0.1:8467 (empty: the ledger endpoints answer 503)")
	verifierKey := fs.String("ledger-key", "", "the log's note verifier key, or a file holding it (inbond anchor --print-key prints it)")
	reports := fs.String("reports", "", "directory of the DOE reports to serve under /v1/reports, as inbond report schedule writes it (empty: those routes answer 503)")
	listCache := fs.Duration("list-cache", time.Second, "how long the shipment list reuses the indexes' answer for one filter (every shown shipment is still checked against its state; negative: never)")
	group := fs.String("processor-group", "inbond-processor", "the processors' consumer group: /readyz waits until it holds every partition (empty: not checked)")
	return command("api", "inbond api [flags]",
		"Serve the HTTP API and the live dashboard for CBP officers, DOE analysts and carriers.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			redisCfg, err := rf.config()
			if err != nil {
				return err
			}
			return pipeline.Run(ctx, pipeline.Config{
				Kafka: pipeline.Kafka{Brokers: splitList(*brokers), Partitions: *partitions},
				Redis: redisCfg,
				API: &api.Config{Listen: *listen, TokenFile: *tokenFile, Tokens: splitList(os.Getenv(apiTokensEnv)),
					RateLimit: *rateLimit, Burst: *burst, LedgerLog: *ledgerLog, VerifierKey: *verifierKey, ProcessorGroup: *group, Reports: *reports, ListCacheTTL: *listCache},
				MetricsAddr: c.metricsAddr,
				Log:         log,
			})
		}))
}

// defaultTokenFile keeps the API's token hashes beside the ledger's key,
// outside any checkout.
func defaultTokenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "api-tokens"
	}
	return filepath.Join(dir, "inbond", "api-tokens")
}

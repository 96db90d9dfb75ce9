# inbond — the commands a developer and CI use. `make test` is the test
# command README.md names; CI runs it through .ci/run.

SHELL     := /bin/bash
GO        ?= go
FUZZTIME  ?= 100000x
PKGS      := ./...

.PHONY: all build vet test test-short test-kafka kafka-jars kstreams-peer fuzz demo bench bench-peers clean

all: build vet test

build:
	$(GO) build -o bin/inbond ./cmd/inbond

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The whole suite against the real Redis and Mosquitto on this machine when
# reachable (in-process servers otherwise; see internal/testenv). The
# packages whose code runs concurrently run with the race detector. Four run
# beside them unraced: the deviation rules (alerts: pure functions), the
# simulator (sim), the DOE reports (report: computed from what they read)
# and replay (the whole pipeline over long recorded traffic, every stage's
# own tests raced): their tests are long computations that the detector
# slows four to ten times and whose concurrency it has nothing to check, and
# raced they put the suite past ten minutes on 2 cores. The processor's
# package, the longest, is listed first so it starts first.
# The full -v log goes to .test.log; the terminal shows results, the backends
# each test used, and the whole output of anything that failed.
# internal/realkafka starts Apache Kafka (Java), and TestPeersKStreams runs
# Kafka Streams on it: make test-kafka runs them.
UNRACED := ./alerts ./sim ./report ./replay
RACED := $(shell $(GO) list $(PKGS) | grep -E '/processor$$'; $(GO) list $(PKGS) | grep -vE '/(processor|replay|realkafka|alerts|sim|report)$$')
test: vet
	@{ $(GO) test -race -count=1 -timeout 9m -v -skip '^TestPeersKStreams$$' $(RACED) > .test-race.log 2>&1; echo $$? > .test-race.status; } & \
	  $(GO) test -count=1 -timeout 9m -v $(UNRACED) > .test-unraced.log 2>&1; unraced=$$?; wait; \
	  cat .test-race.log .test-unraced.log > .test.log; status=$$(cat .test-race.status); rm -f .test-race.log .test-unraced.log .test-race.status; \
	  [ $$unraced -eq 0 ] || status=$$unraced; \
	  grep -E '^(--- |\s+--- FAIL|ok|FAIL|PASS$$|panic|testenv\[)' .test.log; \
	  if [ $$status -ne 0 ]; then echo "---- failures (full log in .test.log) ----"; grep -B2 -A30 -E '^(\s*--- FAIL|panic:)' .test.log | head -400; fi; \
	  exit $$status

# Apache Kafka (the version docker-compose.yml pins) from Maven Central, for
# test-kafka and the peer benchmark: the jars of internal/realkafka/maven's
# pinned project into .cache/realkafka (ignored by git). Needs mvn and Java 17.
KAFKA_LIBS := .cache/realkafka/kafka-3.9.1/libs
kafka-jars: $(KAFKA_LIBS)/kafka_2.13-3.9.1.jar
$(KAFKA_LIBS)/kafka_2.13-3.9.1.jar: internal/realkafka/maven/pom.xml
	mvn -q -B -f internal/realkafka/maven/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(KAFKA_LIBS)
	@touch $@

# The suites whose guarantees hang on Kafka's behaviour, on Apache Kafka
# itself (internal/realkafka; INBOND_TEST_KAFKA=real): the realkafka and bus
# tests (3 brokers), the ingest contract suite (10,000-message no-loss
# bursts, restarts, outages) and the processor's state and fault tests
# (SIGKILL, zombie, rebalance, ghost member, fetch outage, partition-count
# change, Redis faults), and the Kafka Streams peer of the benchmark checked
# against inbond (pipeline). One Kafka per test package, packages one after the
# other; unraced, as make test runs these same tests raced on kfake. The log
# goes to .test-kafka.log.
KAFKA_PROCESSOR_TESTS := TestStateEqualsReference|TestGracefulShutdownFlushes|TestCrashRecoverySIGKILL|TestZombieFlushIsFenced|TestRebalanceJoinLeave|TestDuplicatesChangeNothing|TestRedisRestart|TestRedisLosesEverything|TestRedisRollsBack|TestPartitionCountChangeStops|TestFetchOutageKeepsTheGeneration|TestRetentionGapIsCounted|TestKilledWhileJoiningLeavesNoGhost|TestCacheBoundKeepsState|TestAlertsSurviveSIGKILLs|TestLedgerSurvivesSIGKILL|TestLedgerReopensPastRetention|TestStalledPartitionsAreReported
test-kafka: kafka-jars kstreams-peer
	@set -o pipefail; start=$$(date +%s); status=0; : > .test-kafka.log; \
	  run() { INBOND_TEST_KAFKA=real $(GO) test -count=1 -p 1 -timeout 9m -v "$$@" >> .test-kafka.log 2>&1 || status=1; }; \
	  run ./internal/realkafka ./internal/bus; \
	  run ./ingest -run 'Contract'; \
	  run ./processor -run '^($(KAFKA_PROCESSOR_TESTS))$$'; \
	  run ./pipeline -run '^TestPeersKStreams$$'; \
	  grep -E '^(--- |\s+--- FAIL|ok|FAIL|PASS$$|panic|testenv: started)|testenv\[.*kafka=' .test-kafka.log; \
	  if [ $$status -ne 0 ]; then echo "---- failures (full log in .test-kafka.log) ----"; grep -B2 -A30 -E '^(\s*--- FAIL|panic:)' .test-kafka.log | head -400; fi; \
	  echo "test-kafka: $$(( $$(date +%s) - start )) s on Apache Kafka 3.9.1"; exit $$status

test-short:
	$(GO) test -count=1 $(PKGS)

# Every fuzz target in the tree, FUZZTIME each: by default 100,000 executions
# (7-16 s a target here). A count, not a duration: Go 1.26's coordinator can
# fail a clean run with a bare "context deadline exceeded" when a duration's
# deadline fires while a worker is mid-call (go.dev/issue/75804, fixed in Go
# 1.27); a count has no deadline to race. FUZZTIME=1m still works.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

demo:
	$(GO) run ./cmd/inbond demo

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x $(PKGS)

# inbond against the field (BENCHMARKS.md): the log's read ceiling, the same
# job on goka (bench/goka, a module of its own, built here) and inbond, on the
# same events, interleaved; then a SIGKILL mid-stream for goka and inbond.
# Needs the real Redis on 127.0.0.1:6379. PEERS_FLAGS passes flags, e.g.
# PEERS_FLAGS='--events 100000 --rounds 2'.
PEERS_FLAGS ?=
# The Kafka Streams peer (bench/kstreams, Kafka Streams 3.9.1): its jar and
# every runtime dependency in .cache/kstreams/libs (ignored by git), emptied
# first so no jar of an older resolution stays on the class path.
KSTREAMS_LIBS := .cache/kstreams/libs
kstreams-peer: $(KSTREAMS_LIBS)/kstreams-peer.jar
$(KSTREAMS_LIBS)/kstreams-peer.jar: bench/kstreams/pom.xml $(shell find bench/kstreams/src -type f)
	rm -rf $(KSTREAMS_LIBS)
	mvn -q -B -f bench/kstreams/pom.xml package -Dkstreams.out=$(CURDIR)/.cache/kstreams

# The whole comparison on Apache Kafka (PEERS_FLAGS='--kafka kfake' for the
# in-process one, where the Kafka Streams peer is left out).
bench-peers: build kafka-jars kstreams-peer
	cd bench/goka && $(GO) vet ./... && $(GO) build -o ../../bin/goka-peer .
	./bin/inbond bench peers --kafka real --goka-bin bin/goka-peer $(PEERS_FLAGS)

clean:
	rm -rf bin .test.log .test-race.log .test-unraced.log .test-race.status .test-kafka.log

// Package bus holds inbond's Kafka conventions in one place: the topic layout
// with partition counts, topic creation, and the producer settings every
// component that writes to Kafka must use.
package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/segmentio/kafka-go"
)

// TopicSpec is a topic inbond needs and how it is laid out.
type TopicSpec struct {
	Topic      event.Topic
	Partitions int
	// Configs are topic settings given at creation, such as retention.
	Configs map[string]string
}

// keepForever is the setting of a topic whose records are never deleted.
var keepForever = map[string]string{"retention.ms": "-1", "retention.bytes": "-1"}

// DefaultPartitions is the partition count of inbond.events: the upper bound
// on processor instances sharing the work.
const DefaultPartitions = 12

// Topics returns the topics of the pipeline, inbond.events with the given
// number of partitions.
func Topics(eventPartitions int) []TopicSpec {
	if eventPartitions <= 0 {
		eventPartitions = DefaultPartitions
	}
	return []TopicSpec{
		// inbond.events is the ledger's archive: a checkpoint names its
		// offsets, and verification reads them back months later.
		{event.TopicEvents, eventPartitions, keepForever},
		{event.TopicDLQ, 3, nil},
		{event.TopicCarrierEvents, eventPartitions, nil},
		{event.TopicManifests, 3, nil},
		{event.TopicAlerts, 3, nil},
		{event.TopicAlertsDLQ, 3, nil},
		{event.TopicCheckpoints, 3, keepForever},
	}
}

// EnsureTopics creates the topics that do not exist yet (through the cluster
// controller) and leaves existing ones alone, whatever their partition count.
// It asks brokers in turn which broker is the controller, as Partitions does.
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	d := dialer()
	var ctrl kafka.Broker
	err := withAnyBroker(ctx, d, brokers, func(conn *kafka.Conn) (err error) {
		ctrl, err = conn.Controller()
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure topics: find controller: %w", err)
	}
	cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("ensure topics: dial controller: %w", err)
	}
	defer cc.Close()
	var created []TopicSpec
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: string(s.Topic), NumPartitions: s.Partitions, ReplicationFactor: 1}
		for k, v := range s.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		err := cc.CreateTopics(tc)
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("ensure topics: create %s: %w", s.Topic, err)
		}
		if err == nil {
			created = append(created, s)
		}
	}
	return waitServed(ctx, d, brokers, created)
}

// waitServed waits until every broker of brokers that answers lists each
// topic with all its partitions led. Kafka's controller answers CreateTopics
// once it has committed the topic, before the brokers have it (kfake has it
// at once): a metadata request or a produce right after was told "Unknown
// Topic Or Partition" by a broker still catching up.
func waitServed(ctx context.Context, d *kafka.Dialer, brokers []string, specs []TopicSpec) error {
	for _, b := range brokers {
		for _, s := range specs {
			for {
				err := withAnyBroker(ctx, d, []string{b}, func(conn *kafka.Conn) error {
					parts, err := conn.ReadPartitions(string(s.Topic))
					if err != nil {
						return err
					}
					led := 0
					for _, p := range parts {
						if p.Leader.Host != "" {
							led++
						}
					}
					if led != s.Partitions {
						return kafka.LeaderNotAvailable // an answer: wait on
					}
					return nil
				})
				var answer kafka.Error
				if err == nil || !errors.As(err, &answer) {
					break // served, or this broker does not answer at all
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("ensure topics: %s not served by %s: %w", s.Topic, b, err)
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

// dialTimeout bounds each dial, and each metadata request, of this package.
const dialTimeout = 10 * time.Second

func dialer() *kafka.Dialer { return &kafka.Dialer{Timeout: dialTimeout} }

// deadline is when a request sent now must have its answer: dialTimeout from
// now, or ctx's deadline when sooner.
func deadline(ctx context.Context) time.Time {
	d := time.Now().Add(dialTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		return dl
	}
	return d
}

// withAnyBroker calls fn with a connection to the first of brokers that
// answers, trying them in order: a broker that cannot be dialed, or whose
// connection fails during fn, is skipped for the next one. An error the broker
// sent back (a kafka.Error, such as an unknown topic) is an answer and is
// returned as it is. When no broker answers, the error names each broker with
// its failure. Each attempt is bounded by dialTimeout and by ctx.
func withAnyBroker(ctx context.Context, d *kafka.Dialer, brokers []string, fn func(*kafka.Conn) error) error {
	if len(brokers) == 0 {
		return errors.New("no Kafka brokers configured")
	}
	var errs []error
	for _, b := range brokers {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		err := func() error {
			conn, err := d.DialContext(ctx, "tcp", b)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := conn.SetDeadline(deadline(ctx)); err != nil {
				return err
			}
			return fn(conn)
		}()
		var answer kafka.Error
		if err == nil || errors.As(err, &answer) {
			return err
		}
		errs = append(errs, fmt.Errorf("broker %s: %w", b, err))
	}
	return fmt.Errorf("no broker of %v answered: %w", brokers, errors.Join(errs...))
}

// Partitions returns the partitions of topic, each with its leader, in one
// metadata request to the first of brokers that answers. It tries them in
// order, skipping one it cannot dial or that fails mid-request (each attempt
// bounded by 10 s and by ctx); an error a broker sends back, such as
// kafka.UnknownTopicOrPartition, is that broker's answer and is returned
// without asking the rest. When no broker answers, the error names every
// broker tried with its failure.
func Partitions(ctx context.Context, brokers []string, topic string) ([]kafka.Partition, error) {
	var parts []kafka.Partition
	err := withAnyBroker(ctx, dialer(), brokers, func(conn *kafka.Conn) (err error) {
		parts, err = conn.ReadPartitions(topic)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return parts, nil
}

// MaxBatchRecords bounds the records of one WriteMessages call. The writer's
// BatchSize is set to it so that a call is never split into several produce
// requests per partition, which could fail independently and reorder a
// shipment's events on retry; kafka-go also preallocates BatchSize messages per
// batch, so a larger value costs memory clearing on every write.
const MaxBatchRecords = 1000

// MaxBatchBytes bounds one produce batch. It stays under Kafka's default
// message.max.bytes (1 MiB) so a batch is never split or refused for size.
const MaxBatchBytes = 900 << 10

// MaxRecordBytes bounds one record as RecordSize counts it. The gateways
// dead-letter (or shrink) anything larger, so no record can be refused for
// size, and a batch of them can always be filled without splitting.
const MaxRecordBytes = 512 << 10

// RecordSize is an upper bound of the bytes kafka-go counts for m against
// the writer's BatchBytes (its framing, key, value and headers).
func RecordSize(m kafka.Message) int {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// NewWriter returns the producer settings every inbond writer uses: acks from
// all in-sync replicas (guarantee 1), Java-compatible murmur2 partitioning by
// key so any client computes the same partition for a shipment, and no
// batching delay of its own (callers batch and wait for the result).
//
// Topic is left empty: each kafka.Message names its topic, so one writer can
// publish events and dead letters in one call.
func NewWriter(brokers []string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              MaxBatchRecords,
		BatchBytes:             MaxBatchBytes + 64<<10,
		BatchTimeout:           time.Millisecond,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		AllowAutoTopicCreation: false,
	}
}

// Partitioner computes the partition a key lands in under NewWriter's
// balancer, without allocating: the processor checks every event with it.
type Partitioner struct {
	parts    []int
	balancer kafka.Murmur2Balancer
}

// NewPartitioner returns the partitioner of a topic with n partitions.
func NewPartitioner(n int) *Partitioner {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return &Partitioner{parts: parts}
}

// Partition returns key's partition.
func (p *Partitioner) Partition(key []byte) int {
	return p.balancer.Balance(kafka.Message{Key: key}, p.parts...)
}

// PartitionOf returns the partition a key lands in among n partitions under
// NewWriter's balancer.
func PartitionOf(key []byte, n int) int { return NewPartitioner(n).Partition(key) }

// PartitionCount returns how many partitions topic has: one metadata request
// (see Partitions), where EndOffsets also asks every partition's leader for
// its end.
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return 0, err
	}
	return len(parts), nil
}

// EndOffsets returns each partition's end offset (the offset the next record
// will get) of topic, indexed by partition; its length is the partition count.
// The partitions come from the first broker that answers (see Partitions);
// each end from the partition's leader, which alone can tell it.
func EndOffsets(ctx context.Context, brokers []string, topic string) ([]int64, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	d := dialer()
	ends := make([]int64, len(parts))
	for _, p := range parts {
		if p.ID < 0 || p.ID >= len(parts) {
			return nil, fmt.Errorf("end offsets of %s: partition %d of %d partitions", topic, p.ID, len(parts))
		}
		if p.Leader.Host == "" {
			return nil, fmt.Errorf("end offsets of %s: partition %d has no known leader (broker %d)", topic, p.ID, p.Leader.ID)
		}
		pc, err := d.DialPartition(ctx, "tcp", "", p)
		if err != nil {
			return nil, fmt.Errorf("end offsets of %s: partition %d: leader %s:%d: %w", topic, p.ID, p.Leader.Host, p.Leader.Port, err)
		}
		if err = pc.SetDeadline(deadline(ctx)); err == nil {
			ends[p.ID], err = pc.ReadLastOffset()
		}
		pc.Close()
		if err != nil {
			return nil, fmt.Errorf("end offsets of %s: partition %d: leader %s:%d: %w", topic, p.ID, p.Leader.Host, p.Leader.Port, err)
		}
	}
	return ends, nil
}

// Reader fetch settings every inbond consumer uses.
//
// kafka-go gives a whole fetch, the broker's work included, MaxWait before
// its read deadline, and on a timeout retries the same fetch. A broker slower
// than that to assemble a response (loaded, or on a slow link) then times out
// on every retry and the reader never progresses: it happened with a 50 ms
// MaxWait and 16 MiB fetches against kfake under the race detector. Smaller
// fetches are cheaper to assemble. A longer MaxWait would give more slack,
// but against kfake an idle partition's parked fetch then delays new data by
// up to MaxWait (1 s tripled the ingest tests' latency), so 500 ms it is.
const (
	ReaderMaxWait  = 500 * time.Millisecond
	ReaderMaxBytes = 1 << 20
)

// PartitionReader returns a reader of one partition of topic, positioned by
// the caller with SetOffset. errorf receives the reader's errors.
func PartitionReader(brokers []string, topic string, partition, queue int, errorf func(string, ...any)) *kafka.Reader {
	cfg := kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: ReaderMaxBytes, MaxWait: ReaderMaxWait, QueueCapacity: queue,
	}
	if errorf != nil {
		cfg.ErrorLogger = kafka.LoggerFunc(errorf)
	}
	return kafka.NewReader(cfg)
}

// ReadRange calls fn with every record of the partition from offset from up
// to to (exclusive), in offset order, over one connection to the
// partition's leader in fetches of up to 16 MiB: a bounded read of an
// archive, several times faster than a Reader's background fetches and
// queue (BENCHMARKS.md). It stops at fn's first error.
func ReadRange(ctx context.Context, brokers []string, topic string, partition int, from, to int64, fn func(kafka.Message) error) error {
	pc, err := dialLeader(ctx, brokers, topic, partition)
	if err != nil {
		return fmt.Errorf("read %w", err)
	}
	defer pc.Close()
	for next := from; next < to; {
		if _, err := pc.Seek(next, kafka.SeekAbsolute); err != nil {
			return fmt.Errorf("read %s/%d at %d: %w", topic, partition, next, err)
		}
		if err := pc.SetReadDeadline(deadline(ctx)); err != nil {
			return err
		}
		batch := pc.ReadBatch(1, 16<<20)
		read := 0
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break // the end of this fetch; its error, if any, is Close's
			}
			read++
			if m.Offset < next {
				continue // a fetch may start at its record batch's first offset
			}
			if m.Offset >= to {
				next = to
				break
			}
			next = m.Offset + 1
			if err := fn(m); err != nil {
				_ = batch.Close()
				return err
			}
		}
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s/%d at %d: %w", topic, partition, next, err)
		}
		if read == 0 && next < to {
			return fmt.Errorf("read %s/%d: no record at offset %d, before the range's end %d", topic, partition, next, to)
		}
	}
	return nil
}

// AssignedPartitions returns the partitions of topic that members of the
// consumer group hold now, sorted: what a readiness check compares with the
// partition count to tell that every partition has an owner. A group that is
// rebalancing or empty holds none.
func AssignedPartitions(ctx context.Context, brokers []string, group, topic string) ([]int, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: dialTimeout}
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	var held []int
	for _, g := range resp.Groups {
		if g.Error != nil {
			return nil, fmt.Errorf("describe group %s: %w", group, g.Error)
		}
		if g.GroupState != "Stable" {
			continue
		}
		for _, m := range g.Members {
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == topic {
					held = append(held, t.Partitions...)
				}
			}
		}
	}
	slices.Sort(held)
	return slices.Compact(held), nil
}

// dialLeader connects to the leader of topic's partition.
func dialLeader(ctx context.Context, brokers []string, topic string, partition int) (*kafka.Conn, error) {
	parts, err := Partitions(ctx, brokers, topic)
	if err != nil {
		return nil, fmt.Errorf("%s/%d: %w", topic, partition, err)
	}
	i := slices.IndexFunc(parts, func(p kafka.Partition) bool { return p.ID == partition })
	if i < 0 {
		return nil, fmt.Errorf("%s/%d: no such partition", topic, partition)
	}
	pc, err := dialer().DialPartition(ctx, "tcp", "", parts[i])
	if err != nil {
		return nil, fmt.Errorf("%s/%d: leader: %w", topic, partition, err)
	}
	return pc, nil
}

// FirstOffset is the first offset topic's partition still holds: retention
// (or DeleteRecords) removed every record before it, and Kafka refuses a
// read below it with OFFSET_OUT_OF_RANGE.
func FirstOffset(ctx context.Context, brokers []string, topic string, partition int) (int64, error) {
	pc, err := dialLeader(ctx, brokers, topic, partition)
	if err != nil {
		return 0, fmt.Errorf("first offset of %w", err)
	}
	defer pc.Close()
	if err := pc.SetDeadline(deadline(ctx)); err != nil {
		return 0, err
	}
	first, err := pc.ReadFirstOffset()
	if err != nil {
		return 0, fmt.Errorf("first offset of %s/%d: %w", topic, partition, err)
	}
	return first, nil
}

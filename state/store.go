package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/inbond/inbond/event"
	"github.com/redis/go-redis/v9"
)

// ErrFenced is returned by Flush when another owner has claimed the partition
// since this one did: the caller is a zombie and must drop the partition.
var ErrFenced = errors.New("state: partition claimed by a newer owner (fenced)")

// ErrPositionLost is returned by Flush when Redis no longer holds the
// position the caller's claim or last flush left there: the partition's keys
// were lost (a Redis restart without persistence, a failover to a replica
// that lagged) or restored from an older copy. The caller's memory no longer
// matches Redis; it must discard it, claim the partition again and rebuild
// from the position Redis holds, which replaying the log makes correct.
var ErrPositionLost = errors.New("state: the partition's stored position is not where this owner left it")

// Store is the Redis store of shipment state. It is safe for concurrent use
// by any number of goroutines; each partition must be written by one owner at
// a time, which Claim and the fencing epoch in Flush enforce.
//
// Key layout (prefix, then the partition's hash tag):
//
//	{prefix}{p7}:offset               hash: offset (next to read), epoch, owner
//	{prefix}{p7}:ship:{id}            string: the shipment's JSON
//	{prefix}{p7}:ships                set: shipment IDs in the partition
//	{prefix}{p7}:idx:status:{status}  set: shipment IDs by status
//	{prefix}{p7}:idx:carrier:{scac}   set: by bonded carrier
//	{prefix}{p7}:idx:port:{code}      set: by origin, destination and arrival port
//	{prefix}{p7}:deadlines            sorted set: open shipments by in-bond deadline (unix s)
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a store keeping its keys under prefix (e.g. "inbond:").
//
// It refuses an empty prefix, under which DeletePrefix would unlink every key
// in Redis, and a prefix holding '{' or '}', which would change the hash tag
// Redis Cluster routes a key by and so break the partition's hash tag (a
// flush's keys must share one slot).
func NewStore(rdb redis.UniversalClient, prefix string) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("state: new store: nil Redis client")
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, prefix: prefix}, nil
}

func checkPrefix(prefix string) error {
	if prefix == "" {
		return errors.New(`state: new store: empty key prefix (it would put the store's keys among every other key in Redis, and DeletePrefix would unlink them all); use one such as "inbond:"`)
	}
	if strings.ContainsAny(prefix, "{}") {
		return fmt.Errorf("state: new store: key prefix %q holds '{' or '}', which would override the partition hash tag ({p7}) Redis Cluster places keys by", prefix)
	}
	return nil
}

// Prefix is the key prefix of the store.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) tag(p int) string { return s.prefix + "{p" + strconv.Itoa(p) + "}:" }

// OffsetKey is the hash holding partition p's next offset and fencing epoch.
func (s *Store) OffsetKey(p int) string { return s.tag(p) + "offset" }

// ShipmentKey is the key of a shipment's state in partition p.
func (s *Store) ShipmentKey(p int, id event.ShipmentID) string {
	return s.tag(p) + "ship:" + string(id)
}

// ShipmentsSuffix names the set of a partition's shipments, for Members.
const ShipmentsSuffix = "ships"

// ShipmentsKey is the set of shipments in partition p.
func (s *Store) ShipmentsKey(p int) string { return s.tag(p) + ShipmentsSuffix }

// StatusKey is the index of partition p's shipments with status st.
func (s *Store) StatusKey(p int, st Status) string { return s.tag(p) + "idx:status:" + string(st) }

// CarrierKey is the index of partition p's shipments of carrier c.
func (s *Store) CarrierKey(p int, c event.CarrierID) string {
	return s.tag(p) + "idx:carrier:" + string(c)
}

// PortKey is the index of partition p's shipments touching port code.
func (s *Store) PortKey(p int, code event.PortCode) string {
	return s.tag(p) + "idx:port:" + string(code)
}

// DeadlinesKey is the sorted set of partition p's open shipments by deadline,
// which the timers read.
func (s *Store) DeadlinesKey(p int) string { return s.tag(p) + "deadlines" }

// Claim is a partition's ownership as granted by Store.Claim, and the
// position its owner believes Redis holds.
type Claim struct {
	Partition int
	Epoch     int64
	// Offset is the next offset to read as stored in Redis, or -1 when nothing
	// was ever flushed. Flush checks it and advances it.
	Offset int64
	// Clock is the partition's event-time clock as last flushed (unix ms; 0
	// when none was): where its timers resume after a restart.
	Clock int64
}

var claimScript = redis.NewScript(`
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local after = tonumber(ARGV[2])
if epoch <= after then
  epoch = after + 1
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
local offset = redis.call('HGET', KEYS[1], 'offset')
if not offset then offset = '-1' end
local clock = redis.call('HGET', KEYS[1], 'clock')
if not clock then clock = '0' end
return {epoch, offset, clock}
`)

// Claim makes owner the owner of partition p: it increments the partition's
// fencing epoch, so any earlier owner's next Flush fails with ErrFenced, and
// returns the epoch with the offset to resume from, in one atomic step.
//
// after is the epoch the caller held before (0 if none): the new epoch is
// above it even when Redis lost the partition and counts from 1 again. An
// owner that claims again after such a loss then still fences every zombie,
// whose epochs all predate its own.
func (s *Store) Claim(ctx context.Context, p int, owner string, after int64) (Claim, error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{s.OffsetKey(p)}, owner, after).Slice()
	if err != nil {
		return Claim{}, fmt.Errorf("claim partition %d: %w", p, err)
	}
	epoch, _ := res[0].(int64)
	off, err := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	if err != nil {
		return Claim{}, fmt.Errorf("claim partition %d: stored offset %v: %w", p, res[1], err)
	}
	clock, err := strconv.ParseInt(fmt.Sprint(res[2]), 10, 64)
	if err != nil {
		return Claim{}, fmt.Errorf("claim partition %d: stored clock %v: %w", p, res[2], err)
	}
	return Claim{Partition: p, Epoch: epoch, Offset: off, Clock: clock}, nil
}

// Load reads the shipments ids of partition p; absent ones are missing from
// the map. One round trip whatever the count.
func (s *Store) Load(ctx context.Context, p int, ids []event.ShipmentID) (map[event.ShipmentID]*Shipment, error) {
	out, _, err := s.LoadWith(ctx, p, ids)
	return out, err
}

// LoadWith is Load that also reads, for each shipment, the records of the
// stages above state named by suffixes (such as the rules' watch and the
// ledger's chain link): records[j][i] is suffixes[j]'s record of ids[i], nil
// when absent. Still one round trip: a new shipment costs one MGET however
// many stages keep something about it.
func (s *Store) LoadWith(ctx context.Context, p int, ids []event.ShipmentID, suffixes ...func(event.ShipmentID) string) (map[event.ShipmentID]*Shipment, [][][]byte, error) {
	out := make(map[event.ShipmentID]*Shipment, len(ids))
	records := make([][][]byte, len(suffixes))
	if len(ids) == 0 {
		return out, records, nil
	}
	keys := make([]string, 0, len(ids)*(1+len(suffixes)))
	for _, id := range ids {
		keys = append(keys, s.ShipmentKey(p, id))
	}
	for _, sfx := range suffixes {
		for _, id := range ids {
			keys = append(keys, s.RecordKey(p, sfx(id)))
		}
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("load %d shipments of partition %d: %w", len(ids), p, err)
	}
	for i, v := range vals[:len(ids)] {
		str, ok := v.(string)
		if !ok {
			continue
		}
		sh, err := Decode([]byte(str))
		if err != nil {
			return nil, nil, fmt.Errorf("shipment %s: %w", ids[i], err)
		}
		out[ids[i]] = sh
	}
	for j := range suffixes {
		records[j] = make([][]byte, len(ids))
		for i, v := range vals[len(ids)*(j+1) : len(ids)*(j+2)] {
			if str, ok := v.(string); ok {
				records[j][i] = []byte(str)
			}
		}
	}
	return out, records, nil
}

// Encode is the stored form of a shipment: JSON with sorted map keys, so equal
// states have equal bytes.
func Encode(sh *Shipment) ([]byte, error) { return json.Marshal(sh) }

// Decode reads a stored shipment.
func Decode(b []byte) (*Shipment, error) {
	var sh Shipment
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, fmt.Errorf("decode shipment state: %w", err)
	}
	return &sh, nil
}

// Index is what the secondary indexes hold about one shipment. The processor
// keeps the Index of the last flushed state so a flush changes only what moved.
type Index struct {
	Status   Status
	Carrier  event.CarrierID
	Ports    []event.PortCode // sorted, unique
	Deadline int64            // unix seconds; 0 = not in the deadline set
}

// IndexOf computes a shipment's index entries.
func IndexOf(sh *Shipment) Index {
	ix := Index{Status: sh.Status, Carrier: sh.Carrier}
	add := func(p event.PortCode) {
		if p != "" && !slices.Contains(ix.Ports, p) {
			ix.Ports = append(ix.Ports, p)
		}
	}
	if sh.Manifest != nil {
		add(sh.Manifest.OriginPort)
	}
	add(sh.Destination)
	add(sh.ArrivalPort)
	slices.Sort(ix.Ports)
	if d := sh.Deadline(); !d.IsZero() && sh.Status != StatusExported && sh.Status != StatusConcluded {
		ix.Deadline = d.Unix()
	}
	return ix
}

// Change is one shipment to write in a flush.
type Change struct {
	Shipment *Shipment
	// Before is the index of the state last flushed, nil for a shipment new to Redis.
	Before *Index
}

// flushScript applies a flush only where the partition is exactly where the
// flushing owner left it: its epoch (no newer claim) and its offset (nothing
// lost or rolled back since). ARGV: epoch held, offset held, next offset,
// then the operations.
var flushScript = redis.NewScript(`
local stored = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch, offset = stored[1], stored[2] or '-1'
local held, from, to = ARGV[1], ARGV[2], ARGV[3]
if epoch ~= held then
  if epoch and tonumber(epoch) > tonumber(held) then
    return redis.error_reply('FENCED held epoch ' .. held .. ', current ' .. epoch)
  end
  return redis.error_reply('LOST held epoch ' .. held .. ', stored ' .. tostring(epoch))
end
if offset == to and from ~= to then
  return 0 -- this very flush was applied already; its reply was lost
end
if offset ~= from then
  return redis.error_reply('LOST held offset ' .. from .. ', stored ' .. offset)
end
local i = 4
local n = #ARGV
while i <= n do
  local op, k = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'S' then redis.call('SET', k, ARGV[i + 2]); i = i + 3
  elseif op == 'A' then redis.call('SADD', k, ARGV[i + 2]); i = i + 3
  elseif op == 'R' then redis.call('SREM', k, ARGV[i + 2]); i = i + 3
  elseif op == 'Z' then redis.call('ZADD', k, ARGV[i + 2], ARGV[i + 3]); i = i + 4
  elseif op == 'X' then redis.call('ZREM', k, ARGV[i + 2]); i = i + 3
  elseif op == 'P' then redis.call('RPUSH', k, ARGV[i + 2]); i = i + 3
  elseif op == 'H' then redis.call('HSET', k, ARGV[i + 2], ARGV[i + 3]); i = i + 4
  else return redis.error_reply('unknown op ' .. op) end
end
redis.call('HSET', KEYS[1], 'offset', to)
return n
`)

// opBuilder accumulates a flush's keys and operations.
type opBuilder struct {
	keys  []string
	index map[string]int
	args  []any
}

func (b *opBuilder) key(k string) string {
	i, ok := b.index[k]
	if !ok {
		b.keys = append(b.keys, k)
		i = len(b.keys)
		b.index[k] = i
	}
	return strconv.Itoa(i)
}

func (b *opBuilder) op(code, key string, args ...any) {
	b.args = append(b.args, code, b.key(key))
	b.args = append(b.args, args...)
}

// Flush writes the changed shipments, their index changes and the partition's
// next offset in one atomic Redis step, and advances c.Offset to nextOffset.
// It writes only if Redis holds the partition exactly where c says: c's epoch
// (else ErrFenced when a newer owner claimed it, ErrPositionLost when the
// epoch went missing or backwards) and c's offset (else ErrPositionLost). So
// a flush never lands on state other than the state it was computed from. On
// any other error nothing was written, or this same flush was, and the call
// may be retried as it is.
func (s *Store) Flush(ctx context.Context, c *Claim, nextOffset int64, changes []Change) error {
	return s.FlushWith(ctx, c, nextOffset, changes, nil)
}

// Extra is what the stages above state (the alerts, the ledger) write in the
// same atomic step as a flush: their per-shipment records, the partition's
// timers and outbox, and its event-time clock. Everything lands in the
// partition's slot, or nothing does.
type Extra struct {
	// Records are set as they are: key (RecordKey's suffix, such as
	// "watch:S1" or "alert:9f…") to value.
	Records []Record
	// Timers set (Due > 0) or remove (Due 0) a shipment's timer.
	Timers []Timer
	// Members add to (or, with Remove, take from) a set of the partition,
	// named by its suffix (an index such as "alerts:active").
	Members []Member
	// Outbox is appended, in order, to the partition's outbox list, which
	// the owner publishes after the flush and then trims (TrimOutbox).
	Outbox [][]byte
	// Clock, when non-zero, is stored as the partition's event-time clock.
	Clock int64
}

// Record is one key of a stage's own, in the partition's slot.
type Record struct {
	Suffix string
	Value  []byte
}

// Timer is when a shipment's timers are due (unix ms), 0 for none.
type Timer struct {
	Shipment event.ShipmentID
	Due      int64
}

// Member is one change to a set of the partition.
type Member struct {
	Set, Member string
	Remove      bool
}

// RecordKey is the key of a stage's record in partition p.
func (s *Store) RecordKey(p int, suffix string) string { return s.tag(p) + suffix }

// TimersKey is the sorted set of partition p's shipments by when their
// timers are due (unix ms).
func (s *Store) TimersKey(p int) string { return s.tag(p) + "timers" }

// OutboxKey is the list of partition p's flushed, not yet published outputs.
func (s *Store) OutboxKey(p int) string { return s.tag(p) + "outbox" }

// FlushWith is Flush with extra writes in the same atomic step.
func (s *Store) FlushWith(ctx context.Context, c *Claim, nextOffset int64, changes []Change, extra *Extra) error {
	p := c.Partition
	b := &opBuilder{index: map[string]int{}}
	b.key(s.OffsetKey(p))
	b.args = append(b.args, strconv.FormatInt(c.Epoch, 10), strconv.FormatInt(c.Offset, 10), strconv.FormatInt(nextOffset, 10))
	for _, c := range changes {
		sh := c.Shipment
		val, err := Encode(sh)
		if err != nil {
			return fmt.Errorf("encode shipment %s: %w", sh.ID, err)
		}
		b.op("S", s.ShipmentKey(p, sh.ID), val)
		id := string(sh.ID)
		after := IndexOf(sh)
		before := c.Before
		if before == nil {
			before = &Index{}
			b.op("A", s.ShipmentsKey(p), id)
		}
		if before.Status != after.Status {
			if before.Status != "" {
				b.op("R", s.StatusKey(p, before.Status), id)
			}
			b.op("A", s.StatusKey(p, after.Status), id)
		}
		if before.Carrier != after.Carrier {
			if before.Carrier != "" {
				b.op("R", s.CarrierKey(p, before.Carrier), id)
			}
			if after.Carrier != "" {
				b.op("A", s.CarrierKey(p, after.Carrier), id)
			}
		}
		for _, port := range before.Ports {
			if !slices.Contains(after.Ports, port) {
				b.op("R", s.PortKey(p, port), id)
			}
		}
		for _, port := range after.Ports {
			if !slices.Contains(before.Ports, port) {
				b.op("A", s.PortKey(p, port), id)
			}
		}
		switch {
		case after.Deadline != 0 && after.Deadline != before.Deadline:
			b.op("Z", s.DeadlinesKey(p), after.Deadline, id)
		case after.Deadline == 0 && before.Deadline != 0:
			b.op("X", s.DeadlinesKey(p), id)
		}
	}
	if extra != nil {
		for _, r := range extra.Records {
			b.op("S", s.RecordKey(p, r.Suffix), r.Value)
		}
		for _, t := range extra.Timers {
			if t.Due > 0 {
				b.op("Z", s.TimersKey(p), t.Due, string(t.Shipment))
			} else {
				b.op("X", s.TimersKey(p), string(t.Shipment))
			}
		}
		for _, m := range extra.Members {
			code := "A"
			if m.Remove {
				code = "R"
			}
			b.op(code, s.RecordKey(p, m.Set), m.Member)
		}
		for _, o := range extra.Outbox {
			b.op("P", s.OutboxKey(p), o)
		}
		if extra.Clock != 0 {
			b.op("H", s.OffsetKey(p), "clock", strconv.FormatInt(extra.Clock, 10))
		}
	}
	err := flushScript.Run(ctx, s.rdb, b.keys, b.args...).Err()
	switch {
	case err == nil:
		c.Offset = nextOffset
		return nil
	case strings.HasPrefix(err.Error(), "FENCED"):
		return fmt.Errorf("%w: partition %d: %s", ErrFenced, p, err)
	case strings.HasPrefix(err.Error(), "LOST"):
		return fmt.Errorf("%w: partition %d: %s", ErrPositionLost, p, err)
	}
	return fmt.Errorf("flush partition %d: %w", p, err)
}

// CheckPosition returns nil if Redis holds partition c.Partition exactly
// where c says (its epoch and offset), and otherwise the error Flush would
// return: ErrFenced or ErrPositionLost. It writes nothing.
func (s *Store) CheckPosition(ctx context.Context, c Claim) error {
	return s.Flush(ctx, &c, c.Offset, nil) // a flush of nothing onto the same offset
}

// Offsets returns the next offset Redis holds for each of partitions
// 0..partitions-1 (-1 where none was ever flushed), in one round trip. It
// reads, claims nothing, and may be called by anyone.
func (s *Store) Offsets(ctx context.Context, partitions int) ([]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, partitions)
	for p := range cmds {
		cmds[p] = pipe.HGet(ctx, s.OffsetKey(p), "offset")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("stored offsets: %w", err)
	}
	out := make([]int64, partitions)
	for p, c := range cmds {
		off, err := c.Int64()
		switch {
		case errors.Is(err, redis.Nil):
			off = -1
		case err != nil:
			return nil, fmt.Errorf("stored offset of partition %d: %w", p, err)
		}
		out[p] = off
	}
	return out, nil
}

// LoadRecords reads records of partition p by suffix; an absent one is nil.
// One round trip whatever the count.
func (s *Store) LoadRecords(ctx context.Context, p int, suffixes []string) ([][]byte, error) {
	out := make([][]byte, len(suffixes))
	if len(suffixes) == 0 {
		return out, nil
	}
	keys := make([]string, len(suffixes))
	for i, sfx := range suffixes {
		keys[i] = s.RecordKey(p, sfx)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("load %d records of partition %d: %w", len(keys), p, err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i] = []byte(str)
		}
	}
	return out, nil
}

// Timers returns partition p's timers: each shipment's due time (unix ms).
func (s *Store) Timers(ctx context.Context, p int) (map[event.ShipmentID]int64, error) {
	zs, err := s.rdb.ZRangeWithScores(ctx, s.TimersKey(p), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("timers of partition %d: %w", p, err)
	}
	out := make(map[event.ShipmentID]int64, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		out[event.ShipmentID(m)] = int64(z.Score)
	}
	return out, nil
}

// Outbox returns up to n of partition p's unpublished outputs, oldest first.
func (s *Store) Outbox(ctx context.Context, p, n int) ([][]byte, error) {
	vals, err := s.rdb.LRange(ctx, s.OutboxKey(p), 0, int64(n)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("outbox of partition %d: %w", p, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

var trimScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return redis.error_reply('FENCED outbox trimmed by epoch ' .. ARGV[1])
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
return 0
`)

// TrimOutbox drops the n oldest outputs of the claim's partition once they
// are published. It refuses (ErrFenced) unless the claim's epoch still owns
// the partition, so a zombie never drops what a newer owner has yet to
// publish.
func (s *Store) TrimOutbox(ctx context.Context, c Claim, n int) error {
	err := trimScript.Run(ctx, s.rdb, []string{s.OffsetKey(c.Partition), s.OutboxKey(c.Partition)}, strconv.FormatInt(c.Epoch, 10), n).Err()
	if err != nil && strings.HasPrefix(err.Error(), "FENCED") {
		return fmt.Errorf("%w: partition %d: %s", ErrFenced, c.Partition, err)
	}
	return err
}

// Members returns the members of partition p's set with the given suffix
// (ShipmentsKey's is "ships"), sorted.
func (s *Store) Members(ctx context.Context, p int, suffix string) ([]string, error) {
	m, err := s.rdb.SMembers(ctx, s.RecordKey(p, suffix)).Result()
	if err != nil {
		return nil, fmt.Errorf("members of %s in partition %d: %w", suffix, p, err)
	}
	slices.Sort(m)
	return m, nil
}

// Fingerprint returns a short text that changes whenever a flush or an
// outbox trim changes partitions 0..partitions-1: their positions, clocks,
// outboxes, timers and the sizes of the given sets. One round trip; for
// waiting until a pipeline has settled.
func (s *Store) Fingerprint(ctx context.Context, partitions int, sets ...string) (string, error) {
	pipe := s.rdb.Pipeline()
	var cmds []redis.Cmder
	for p := range partitions {
		cmds = append(cmds, pipe.HMGet(ctx, s.OffsetKey(p), "offset", "clock"), pipe.LLen(ctx, s.OutboxKey(p)), pipe.ZCard(ctx, s.TimersKey(p)))
		for _, set := range sets {
			cmds = append(cmds, pipe.SCard(ctx, s.RecordKey(p, set)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString(c.String())
		b.WriteByte(';')
	}
	return b.String(), nil
}

// CountByStatus returns how many shipments have each status, summed over
// partitions 0..partitions-1 from the status indexes: one round trip.
func (s *Store) CountByStatus(ctx context.Context, partitions int) (map[Status]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make(map[Status][]*redis.IntCmd, len(Statuses))
	for _, st := range Statuses {
		for p := range partitions {
			cmds[st] = append(cmds[st], pipe.SCard(ctx, s.StatusKey(p, st)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("count shipments by status: %w", err)
	}
	out := make(map[Status]int64, len(Statuses))
	for st, cs := range cmds {
		for _, c := range cs {
			out[st] += c.Val()
		}
	}
	return out, nil
}

// DeletePrefix removes every key under the store's prefix (the demo and the
// tests use it to start from, or leave, a clean slate; production never calls
// it). It is not atomic: keys written meanwhile may survive.
//
// On a Redis Cluster (*redis.ClusterClient) it scans every master, and on a
// *redis.Ring every live shard, since SCAN sees the keys of one node only.
// Each key is unlinked on its own, pipelined through the store's client, so
// no command spans two slots and a key that moved is followed to its node.
func (s *Store) DeletePrefix(ctx context.Context) error {
	if err := checkPrefix(s.prefix); err != nil { // a Store not made by NewStore
		return fmt.Errorf("delete prefix: %w", err)
	}
	onNode := func(ctx context.Context, node *redis.Client) error { return s.deleteOn(ctx, node) }
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, onNode)
	case *redis.Ring:
		err = c.ForEachShard(ctx, onNode)
	default:
		err = s.deleteOn(ctx, s.rdb)
	}
	if err != nil {
		return fmt.Errorf("delete keys %s*: %w", s.prefix, err)
	}
	return nil
}

// deleteOn unlinks the keys under the prefix that node's SCAN returns, a
// thousand per round trip.
func (s *Store) deleteOn(ctx context.Context, node redis.Cmdable) error {
	const batch = 1000
	iter := node.Scan(ctx, 0, s.prefix+"*", batch).Iterator()
	keys := make([]string, 0, batch)
	unlink := func() error {
		if len(keys) == 0 {
			return nil
		}
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, k := range keys {
				pipe.Unlink(ctx, k)
			}
			return nil
		})
		keys = keys[:0]
		return err
	}
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == batch {
			if err := unlink(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return unlink()
}

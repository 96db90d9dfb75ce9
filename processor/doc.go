// Package processor turns inbond.events into each shipment's live state in
// Redis, with exactly-once effect.
//
// A Processor is a member of a Kafka consumer group. For each partition it is
// assigned it claims the partition in Redis (state.Store.Claim bumps the
// fencing epoch and returns the stored offset), reads the partition from that
// offset (the group's committed offset is only advisory, for lag tools), and
// runs an apply loop:
//
//   - Order: events are applied serially in partition order, so each
//     shipment's events are applied in order; partitions run in parallel, one
//     goroutine each, and share no state.
//   - Durability: applied events live in memory until a flush (every
//     FlushInterval or FlushEvents, or earlier when unflushed shipments fill
//     the cache) writes the changed shipments, their index entries and the
//     partition's next offset in one atomic Redis step. A crash loses only
//     unflushed work, which is re-read from the stored offset.
//   - Memory: each partition holds at most CacheShipments shipment states
//     (default 10,000), however many shipments pass. Past the bound it
//     evicts states already flushed, least recently used first; a state
//     changed since the last flush is never evicted, and when such states
//     alone fill the cache the partition flushes first. An evicted state is
//     exactly what Redis holds for it, and its shipment, when met again, is
//     reloaded from Redis before its next event is applied, as any shipment
//     new to the partition is: eviction never changes state.
//   - Fencing: a flush carries the epoch of the claim; once another instance
//     has claimed the partition the flush is refused and this instance drops
//     the partition, so a paused "zombie" can never overwrite newer state.
//   - Position: a flush also requires Redis to hold the partition at the
//     offset this owner last left it. When Redis lost the keys or was rolled
//     back, the owner drops its memory, claims the partition again (with a
//     higher epoch than it held) and replays from the offset Redis has. An
//     idle partition checks its position every second.
//   - Duplicates: state.Apply ignores an event whose device sequence number or
//     ID was already applied, so redelivered and replayed events are harmless.
//
// Failure rules, in one place:
//
//  1. Redis errors are retried with backoff until the generation ends; a
//     partition released meanwhile makes one last flush attempt (10 s).
//  2. A fenced flush drops the partition and its unflushed work; the
//     partition's goroutine returns, which ends the generation (kafka-go).
//  3. A lost position is repaired in place, without leaving the generation.
//  4. A Kafka read error is logged and reading goes on: kafka-go retries
//     behind it, and returning would rebalance the whole group.
//  5. A change of the topic's partition count stops Run with
//     ErrPartitionCountChanged: it breaks which partition owns a shipment.
//  6. Records retention deleted before they were applied are counted
//     (inbond_processor_skipped_offsets_total) and logged; they cannot be
//     recovered.
package processor

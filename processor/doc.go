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
//     FlushInterval or FlushEvents) writes the changed shipments, their index
//     entries and the partition's next offset in one atomic Redis step. A
//     crash loses only unflushed work, which is re-read from the stored offset.
//   - Fencing: a flush carries the epoch of the claim; once another instance
//     has claimed the partition the flush is refused and this instance drops
//     the partition, so a paused "zombie" can never overwrite newer state.
//   - Duplicates: state.Apply ignores an event whose device sequence number or
//     ID was already applied, so redelivered and replayed events are harmless.
package processor

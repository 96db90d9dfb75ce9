// Package webhook is the webhook sink of inbond's alerts: it reads every alert
// transition from Kafka topic inbond.alerts and POSTs it, as the CloudEvent
// the processor published, to each configured target whose filters match,
// following the Standard Webhooks convention (https://www.standardwebhooks.com):
//
//	POST <target url>
//	Content-Type:      application/cloudevents+json
//	webhook-id:        <the CloudEvents id>        the same on every attempt and every re-delivery
//	webhook-timestamp: <unix seconds of this attempt>
//	webhook-signature: v1,<base64 HMAC-SHA256(secret, id + "." + timestamp + "." + body)>
//
//	<the record's value, byte for byte as published on inbond.alerts>
//
// # Guarantees
//
//  1. At least once, never lost. A record's offset is committed only after
//     every target it matches has either accepted it (a 2xx answer) or had it
//     dead-lettered to inbond.alerts.dlq with the broker's acknowledgement
//     from all in-sync replicas. A crash, a restart or a rebalance before that
//     re-delivers it, so a receiver sees duplicates and must deduplicate by
//     webhook-id; the processor itself re-publishes after a crash, with the
//     same id, so receivers need that dedup in any case.
//  2. Per-target order. A target has one delivery in flight at a time and
//     receives the records in the order the sink fetched them (per partition
//     of inbond.alerts, and so per shipment, the order the processor
//     published). The exception: a record dead-lettered for a target is
//     skipped by it, and the target goes on with the next.
//  3. Bounded retries. A delivery is tried Attempts times (default 8) with
//     exponential backoff between attempts (see Config.Backoff), honouring a
//     Retry-After; then it is dead-lettered to inbond.alerts.dlq with the
//     target, a reason (see Reason), the last HTTP status and the original
//     event (see DeadLetterRecord). A 410 Gone is dead-lettered at once. A
//     dead letter that cannot be written is retried until it is, or until
//     the sink stops (then the record is re-delivered).
//  4. Bad input never stops the sink. A record that is not an alert
//     transition (not JSON, no id) is dead-lettered with target "" and
//     reason invalid_event, and committed.
//
// # Concurrency
//
// Sink.Run runs one fetch loop, one goroutine per target and one committer.
// The fetch loop decodes each record, registers it with the commit tracker
// (which keeps, per partition, the uncommitted records in fetch order) and
// queues it to every matching target. A target's goroutine delivers its
// queue one record at a time through the middleware chain
// DeadLetter(Retry(Instrument(Post))). When the last matching target has
// settled a record (delivered or dead-lettered), the tracker pops the
// settled records at the head of that partition's queue and hands the last
// one to the committer, which commits it (kafka-go commits its offset + 1).
// A record never becomes committable while an earlier record of its
// partition is still in flight, whatever the order the targets finish in.
// At most Config.MaxInFlight records are fetched and not yet committable:
// a slow or failing target holds the others back by that much, no more.
//
// Stopping (the context of Run ends) aborts the deliveries in flight: an
// aborted delivery is neither delivered nor dead-lettered, so its record
// stays uncommitted and the next member of the group re-delivers it. What
// was settled is committed before Run returns.
package webhook

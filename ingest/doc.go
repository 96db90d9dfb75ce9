// Package ingest is the edge of inbond: gateways that take carriers' MQTT
// telemetry and Kafka carrier events and manifests, validate and normalize
// them into canonical event.Envelopes, and publish them to inbond.events keyed
// by shipment. Anything that cannot be accepted goes to inbond.dlq as a
// DeadLetter naming a wire.Reason.
//
// # The source contract
//
// Every gateway keeps the same promise (DESIGN.md, guarantee 1): a message is
// acknowledged to its source (MQTT PUBACK, Kafka offset commit) only after
// Kafka acknowledged, with acks=all, the record it produced: the canonical
// event or its dead letter. Until then the source keeps it and redelivers it
// after a crash. Redelivery can therefore publish a record twice; event IDs are
// deterministic (event.DeriveID) so the processor drops the copy.
//
// Order: records of one source connection are written in the order they were
// received, one batch at a time, so a shipment's events keep the order its
// devices published them in as long as one gateway connection reads them.
package ingest

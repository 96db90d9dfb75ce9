// Package inbond is the root of the inbond module: a stream processor that
// tracks U.S. customs in-bond movements of crude oil and natural gas. It holds
// no code, only this map of the house and the test that keeps it standing
// (layout_test.go).
//
// The packages stand on floors, and a package imports only packages on
// floors below its own, never one beside or above it:
//
//	9  cmd/inbond                       flags into a pipeline.Config; nothing else
//	8  demo                             the live demo: a simulated scenario played into the pipeline
//	7  pipeline                         the assembly: servers and stages from one Config; the benchmark
//	6  ingest/ingesttest                the contract every gateway passes
//	5  processor, internal/testenv      the apply loop; real-or-in-process servers for tests
//	4  state, ingest, sim               shipment state in Redis; the gateways; the carriers' simulator
//	3  internal/embedded                in-process Kafka, MQTT and Redis
//	2  internal/bus, obs, retry         Kafka conventions; logs and metrics; the retry policy
//	1  wire                             what carriers speak: MQTT topics, compact form, dead-letter reasons
//	0  event, this package              the canonical event
package inbond

// Package inbond is the root of the inbond module: a stream processor that
// tracks U.S. customs in-bond movements of crude oil and natural gas. It holds
// no code, only this map of the house and the test that keeps it standing
// (layout_test.go).
//
// The packages stand on floors, and a package imports only packages on
// floors below its own, never one beside or above it:
//
//	10 cmd/inbond, ledger/independent   flags into a pipeline.Config; nothing else; the ledger checked
//	                                    by a test with public libraries only (it imports no inbond package)
//	9  demo, replay                     the live demo; the whole pipeline over recorded traffic, every output
//	8  pipeline                         the assembly: servers and stages from one Config; the benchmark
//	7  ingest/ingesttest, api           the contract every gateway passes; the HTTP API (reads state, the
//	                                    archive and the log; writes manifests and commands to Kafka)
//	6  processor, sim, alerts/desk,    the apply loop; the carriers' simulator; officers' alert tools;
//	   alerts/webhook, internal/testenv the webhook sink; servers for tests; the DOE reports (from the
//	   report                           archive at a ledger checkpoint, re-derivable by anyone with the key)
//	5  alerts, ledger/anchor,           the deviation rules: their names, severities and limits;
//	   ledger/audit                     the anchor service (transparency log, receipts); verification
//	4  state, ingest                    shipment state in Redis; the gateways
//	3  internal/embedded                in-process Kafka, MQTT and Redis
//	2  internal/realkafka               Apache Kafka itself (JVMs) for the tests on real Kafka
//	2  internal/bus, obs, retry         Kafka conventions; logs and metrics; the retry policy
//	1  wire, corridors, ledger,         what carriers speak; the declared routes, meters and ports;
//	   api/internal/genbasemap          hash chains, checkpoints, receipts, proofs; the dashboard's
//	                                    basemap generator (go generate ./api)
//	0  event, this package              the canonical event
package inbond

// Package event defines inbond's vocabulary: the canonical event envelope that
// flows on the inbond.events topic, its typed payloads, the in-bond manifest,
// their validation and the canonical byte encoding that is hashed into each
// shipment's tamper-evident chain.
//
// The envelope follows CloudEvents 1.0 attribute names in the structured JSON
// mode, so any CloudEvents-aware tool (or kcat and jq) can read the topics.
// Everything here is pure: no I/O, no clocks, no globals that change.
package event

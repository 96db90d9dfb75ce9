// Package event defines inbond's vocabulary: the canonical event envelope that
// flows on the inbond.events topic, its typed payloads, the in-bond manifest,
// their validation and the canonical byte encoding that is hashed into each
// shipment's tamper-evident chain.
//
// The envelope follows CloudEvents 1.0 attribute names in the structured JSON
// mode, so any CloudEvents-aware tool (or kcat and jq) can read the topics.
// Everything here is pure: no I/O, no clocks, no globals that change.
//
// Outside input is read strictly (DecodeJSON, Unmarshal, UnmarshalPayload,
// UnmarshalManifest): it must be I-JSON (RFC 7493), names match exactly,
// nothing unknown, nothing null, every required field present. The json tags
// of the types are that contract, and package wire publishes it as JSON
// Schema. The processor's UnmarshalCanonical trusts what the gateways wrote.
package event

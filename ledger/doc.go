// Package ledger makes every shipment's history tamper-evident, and lets an
// auditor holding only the log's verifier key prove it months later without
// trusting inbond's Redis or its code (DESIGN.md, Guarantee 4).
//
// Three layers, each checkable with public libraries:
//
//  1. A hash chain per shipment over the exact bytes of each of its records
//     on inbond.events, in partition order: head = SHA-256(prev_head ||
//     record value), starting from 32 zero bytes. The processor advances it
//     in the same atomic flush as the state (Link).
//  2. A checkpoint per partition and interval: the offset range it covers
//     and the RFC 6962 Merkle root over the sorted (shipment, event count,
//     chain head) leaves of the shipments the range changed (Batch,
//     Checkpoint). A leaf's batch proof is an RFC 6962 inclusion proof.
//  3. The transparency log: the anchor service appends each checkpoint's
//     entry (Checkpoint.Entry) to a C2SP tlog-tiles log whose C2SP
//     tlog-checkpoint notes are signed with Ed25519.
//
// A Receipt ties one shipment to all three; Proof is the offline form, a
// C2SP tlog-proof whose extra data carries the receipt and the shipment's
// events, checked by VerifyProof with nothing but the verifier key.
//
// The Merkle hashing and proofs are transparency-dev/merkle's, the note and
// checkpoint formats transparency-dev/formats' and x/mod's sumdb/note: this
// package writes only the leaf and entry encodings.
package ledger

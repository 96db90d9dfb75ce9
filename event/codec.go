package event

import (
	"encoding/json"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// Marshal encodes e as a structured-mode CloudEvent in its RFC 8785 (JCS)
// canonical form: the bytes the gateways publish to inbond.events, and the
// bytes the ledger hashes into the shipment's chain as they are, so nothing
// downstream re-encodes an event to hash it. Times are written in UTC so
// equal events encode equally.
func Marshal(e *Envelope) ([]byte, error) {
	c := *e
	c.Time = c.Time.UTC()
	c.ReceivedTime = c.ReceivedTime.UTC()
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	// jsontext canonicalizes in place, about three times faster than a
	// parse-and-write JCS library (BENCHMARKS.md).
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return nil, fmt.Errorf("canonicalize event %s: %w", e.ID, err)
	}
	return v, nil
}

// Canonical returns the RFC 8785 (JCS) canonical encoding of e without its
// proof: the exact bytes a device signs. Two envelopes with equal content
// have equal canonical bytes whatever the key order or number formatting
// they arrived with.
func Canonical(e *Envelope) ([]byte, error) {
	c := *e
	c.Proof = ""
	return Marshal(&c)
}

package event

import (
	"encoding/json"
	"fmt"

	"github.com/gowebpki/jcs"
)

// Marshal encodes e as a structured-mode CloudEvent (the bytes published to
// inbond.events). Times are written in UTC so equal events encode equally.
func Marshal(e *Envelope) ([]byte, error) {
	c := *e
	c.Time = c.Time.UTC()
	c.ReceivedTime = c.ReceivedTime.UTC()
	return json.Marshal(&c)
}

// Canonical returns the RFC 8785 (JCS) canonical encoding of e without its
// proof: the exact bytes that are signed by devices and hashed into the
// shipment's chain. Two envelopes with equal content have equal canonical
// bytes whatever the key order or number formatting they arrived with.
func Canonical(e *Envelope) ([]byte, error) {
	c := *e
	c.Proof = ""
	b, err := Marshal(&c)
	if err != nil {
		return nil, err
	}
	out, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonicalize event %s: %w", e.ID, err)
	}
	return out, nil
}

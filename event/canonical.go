package event

import (
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"
)

// canonicalWire is the envelope as the gateways write it to inbond.events.
type canonicalWire struct {
	SpecVersion     string            `json:"specversion"`
	ID              string            `json:"id"`
	Source          string            `json:"source"`
	Type            Type              `json:"type"`
	Subject         ShipmentID        `json:"subject"`
	Time            time.Time         `json:"time"`
	DataContentType string            `json:"datacontenttype"`
	Sequence        uint64            `json:"sequence,omitempty"`
	PartitionKey    ShipmentID        `json:"partitionkey"`
	Carrier         CarrierID         `json:"carrier"`
	Device          DeviceID          `json:"device,omitempty"`
	ReceivedTime    time.Time         `json:"recvtime"`
	Proof           string            `json:"proof,omitempty"`
	Data            gojson.RawMessage `json:"data"`
}

// UnmarshalCanonical decodes a record of inbond.events. That topic is written
// only by the gateways, after Validate, so it trusts its input: no check for
// unknown fields and no validation, with a decoder about ten times faster than
// Unmarshal's (see BENCHMARKS.md); this is the processor's hot path. Anything
// read from outside inbond goes through Unmarshal instead.
func UnmarshalCanonical(b []byte) (*Envelope, error) {
	var w canonicalWire
	if err := gojson.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode canonical event: %w", err)
	}
	p := NewPayload(w.Type)
	if p == nil {
		return nil, fmt.Errorf("decode canonical event %s: %w %q", w.ID, ErrUnknownType, w.Type)
	}
	if err := gojson.Unmarshal(w.Data, p); err != nil {
		return nil, fmt.Errorf("decode canonical event %s data: %w", w.ID, err)
	}
	return &Envelope{
		SpecVersion: w.SpecVersion, ID: w.ID, Source: w.Source, Type: w.Type, Subject: w.Subject, Time: w.Time,
		DataContentType: w.DataContentType, Sequence: w.Sequence, PartitionKey: w.PartitionKey, Carrier: w.Carrier,
		Device: w.Device, ReceivedTime: w.ReceivedTime, Proof: w.Proof, Data: p,
	}, nil
}

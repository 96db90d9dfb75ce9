package event

import (
	"fmt"
	"regexp"
)

// ShipmentID identifies one in-bond movement. It is the key of every record on
// inbond.events, so all events of one shipment share a partition and an order.
type ShipmentID string

// CarrierID is a carrier's Standard Carrier Alpha Code (SCAC), 2–4 upper-case
// letters, as used in MQTT topics and in the bonded-carrier field of a manifest.
type CarrierID string

// DeviceID names one sensor or gateway device of a carrier (a meter, a GPS
// tracker, an electronic seal). Sequence numbers are counted per device.
type DeviceID string

// MeterID names a custody-transfer meter station on a pipeline.
type MeterID string

// PortCode is a CBP Schedule D port code: four digits, leading zero kept.
type PortCode string

// Topic is the name of a Kafka topic that inbond reads or writes.
type Topic string

// The Kafka topics of the pipeline.
const (
	// TopicEvents carries every accepted canonical event, keyed by shipment.
	// It is kept forever: it is the ledger's archive, which checkpoints name
	// by offset range.
	TopicEvents Topic = "inbond.events"
	// TopicDLQ carries rejected input with a machine-readable reason.
	TopicDLQ Topic = "inbond.dlq"
	// TopicCarrierEvents is where carriers' systems publish raw carrier events.
	TopicCarrierEvents Topic = "inbond.carrier-events"
	// TopicManifests is where carriers' systems publish in-bond manifests.
	TopicManifests Topic = "inbond.manifests"
	// TopicAlerts carries every alert transition the processor makes, as a
	// CloudEvent keyed by shipment; its id deduplicates a re-publication.
	TopicAlerts Topic = "inbond.alerts"
	// TopicAlertsDLQ carries alert deliveries that failed every attempt, with
	// the target and the reason.
	TopicAlertsDLQ Topic = "inbond.alerts.dlq"
	// TopicCheckpoints carries the processor's ledger checkpoints (a Merkle
	// root over the shipments an interval of one partition changed, with its
	// leaves), keyed by partition, for the anchor to log. Kept forever.
	TopicCheckpoints Topic = "inbond.checkpoints"
)

var (
	identPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	scacPattern    = regexp.MustCompile(`^[A-Z]{2,4}$`)
	portPattern    = regexp.MustCompile(`^[0-9]{4}$`)
	htsPattern     = regexp.MustCompile(`^[0-9]{4}\.[0-9]{2}\.[0-9]{2}$`)
	irsPattern     = regexp.MustCompile(`^[0-9]{2}-[0-9]{7}[0-9A-Z]{2}$`)
	inBondPattern  = regexp.MustCompile(`^[0-9]{9}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	statePattern   = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Validate reports whether s is usable as a shipment ID: 1–64 characters of
// letters, digits, '.', '_' or '-', starting with a letter or digit. The same
// characters are safe in an MQTT topic level and a Redis key.
func (s ShipmentID) Validate(field string) error {
	return checkIdent(field, string(s))
}

// Validate reports whether d is usable as a device ID (same alphabet as ShipmentID).
func (d DeviceID) Validate(field string) error {
	return checkIdent(field, string(d))
}

// Validate reports whether m is usable as a meter ID (same alphabet as ShipmentID).
func (m MeterID) Validate(field string) error {
	return checkIdent(field, string(m))
}

// Validate reports whether c is a well-formed SCAC.
func (c CarrierID) Validate(field string) error {
	if c == "" {
		return missing(field)
	}
	if !scacPattern.MatchString(string(c)) {
		return invalid(field, c, RuleFormat, "a SCAC is 2 to 4 upper-case letters")
	}
	return nil
}

// Validate reports whether p is a well-formed Schedule D port code.
func (p PortCode) Validate(field string) error {
	if p == "" {
		return missing(field)
	}
	if !portPattern.MatchString(string(p)) {
		return invalid(field, p, RuleFormat, "a Schedule D port code is 4 digits")
	}
	return nil
}

func checkIdent(field, v string) error {
	if v == "" {
		return missing(field)
	}
	if !identPattern.MatchString(v) {
		return invalid(field, v, RuleFormat, "1-64 of [A-Za-z0-9._-], starting with a letter or digit")
	}
	return nil
}

// String renders a topic name for logs and Kafka clients.
func (t Topic) String() string { return string(t) }

var _ fmt.Stringer = Topic("")

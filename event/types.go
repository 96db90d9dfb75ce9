package event

import "strings"

// Type is a CloudEvents `type` attribute. The suffix names the payload schema
// version; a new incompatible payload gets a new Type, never a changed one.
type Type string

// Kind groups types by who produces them and what they mean to a shipment.
type Kind string

// The kinds of events.
const (
	KindTelemetry Kind = "telemetry" // sensor readings from carriers' devices
	KindCarrier   Kind = "carrier"   // movement milestones reported by carriers' systems
	KindManifest  Kind = "manifest"  // the in-bond declaration itself
	// KindCommand is what people do (an officer acknowledging an alert):
	// written to inbond.events by inbond itself, never accepted from a
	// carrier's channel, and applied in order like any event.
	KindCommand Kind = "command"
)

const typePrefix = "gov.cbp.inbond."

// The event types inbond understands.
const (
	TypePosition Type = typePrefix + "telemetry.position.v1"
	TypeMeter    Type = typePrefix + "telemetry.meter.v1"
	TypeQuality  Type = typePrefix + "telemetry.quality.v1"
	TypeSeal     Type = typePrefix + "telemetry.seal.v1"

	TypeDeparted           Type = typePrefix + "carrier.departed.v1"
	TypeBorderCrossed      Type = typePrefix + "carrier.border_crossed.v1"
	TypeArrived            Type = typePrefix + "carrier.arrived.v1"
	TypeDiversionRequested Type = typePrefix + "carrier.diversion_requested.v1"
	TypeDiversionApproved  Type = typePrefix + "carrier.diversion_approved.v1"
	TypeTransferred        Type = typePrefix + "carrier.transferred.v1"
	TypeExported           Type = typePrefix + "carrier.exported.v1"
	TypeDelivered          Type = typePrefix + "carrier.delivered.v1"

	TypeManifest Type = typePrefix + "manifest.v1"

	TypeAlertCommand Type = typePrefix + "command.alert.v1"
)

// payloadFactories maps every known type to a constructor of its empty payload.
// It is the single registry the decoder and the short names use.
var payloadFactories = map[Type]func() Payload{
	TypePosition:           func() Payload { return new(Position) },
	TypeMeter:              func() Payload { return new(MeterReading) },
	TypeQuality:            func() Payload { return new(QualityReading) },
	TypeSeal:               func() Payload { return new(SealState) },
	TypeDeparted:           func() Payload { return new(Departed) },
	TypeBorderCrossed:      func() Payload { return new(BorderCrossed) },
	TypeArrived:            func() Payload { return new(Arrived) },
	TypeDiversionRequested: func() Payload { return new(DiversionRequested) },
	TypeDiversionApproved:  func() Payload { return new(DiversionApproved) },
	TypeTransferred:        func() Payload { return new(Transferred) },
	TypeExported:           func() Payload { return new(Exported) },
	TypeDelivered:          func() Payload { return new(Delivered) },
	TypeManifest:           func() Payload { return new(Manifest) },
	TypeAlertCommand:       func() Payload { return new(AlertCommand) },
}

// Known reports whether t is a type inbond understands.
func (t Type) Known() bool {
	_, ok := payloadFactories[t]
	return ok
}

// Kind returns the kind of t, or "" for an unknown type.
func (t Type) Kind() Kind {
	if !t.Known() {
		return ""
	}
	rest := strings.TrimPrefix(string(t), typePrefix)
	switch {
	case strings.HasPrefix(rest, "telemetry."):
		return KindTelemetry
	case strings.HasPrefix(rest, "carrier."):
		return KindCarrier
	case strings.HasPrefix(rest, "command."):
		return KindCommand
	default:
		return KindManifest
	}
}

// Short returns the compact name devices may use for t: "meter", "arrived",
// "manifest". It is the segment between the kind and the version.
func (t Type) Short() string {
	rest := strings.TrimPrefix(string(t), typePrefix)
	rest = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(rest, "telemetry."), "carrier."), "command.")
	return strings.TrimSuffix(rest, ".v1")
}

// byShort maps every known type's short name to the type.
var byShort = func() map[string]Type {
	m := map[string]Type{}
	for t := range payloadFactories {
		m[t.Short()] = t
	}
	return m
}()

// TypeFromShort resolves a compact type name ("meter") or a full type to a
// known Type. ok is false when the name is unknown.
func TypeFromShort(name string) (t Type, ok bool) {
	if Type(name).Known() {
		return Type(name), true
	}
	t, ok = byShort[name]
	return t, ok
}

// NewPayload returns an empty payload of type t, or nil for an unknown type.
func NewPayload(t Type) Payload {
	f, ok := payloadFactories[t]
	if !ok {
		return nil
	}
	return f()
}

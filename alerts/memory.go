package alerts

// Memory is what the rules remember about a shipment between its events,
// beyond its state. Each rule owns its fields; all of them are part of the
// watch stored with the state, so they are exactly-once too.
//
// Memory is JSON, and bounded whatever the traffic: every list in it has a
// fixed cap (named beside it), so a shipment's watch stays a few kilobytes
// however long the movement and however many devices speak for it. A part a
// shipment never needs (meters on a truck, a stop on a pipeline) stays nil
// and is left out of the JSON.
type Memory struct {
	// Heard is when the shipment's registered devices last reported (gap).
	Heard GapMemory `json:"heard"`
	// Arrival is when the telemetry showed the goods at their destination
	// (late_report, gap, stop, overdue); nil until it did.
	Arrival *ArrivalMemory `json:"arrival,omitempty"`
	// Meters are a pipeline's meter tracks (imbalance, pressure, and the
	// pipeline's physical arrival), at most MaxMeters.
	Meters []*MeterTrack `json:"meters,omitempty"`
	// RouteSeg is the corridor segment nearest the latest fix (route): the
	// next fix is measured against its neighbours first.
	RouteSeg int `json:"route_seg,omitempty"`
	// Stop is the stationary run under way outside the allowed areas.
	Stop *StopMemory `json:"stop,omitempty"`
	// Gas is the latest contaminant measurements (misclassification).
	Gas *GasMemory `json:"gas,omitempty"`
	// Pressure is what the pressure alert that is open rests on.
	Pressure *PressureMemory `json:"pressure,omitempty"`
	// Identity lists the unregistered devices and foreign carriers seen.
	Identity *IdentityMemory `json:"identity,omitempty"`
	// Replay is each device's recent sequence numbers.
	Replay []*DeviceSeqs `json:"replay,omitempty"`
}

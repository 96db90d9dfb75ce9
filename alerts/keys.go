package alerts

import "github.com/inbond/inbond/event"

// Where alerts live in the state store, within their shipment's partition
// (state.Store's records and sets, written by the processor's flush).
const (
	// ActiveSet is the set of the partition's alerts that are not resolved.
	ActiveSet = "alerts:active"
	// AllSet is the set of every alert of the partition, by ID.
	AllSet = "alerts:all"
)

// RecordSuffix is the record key suffix of alert id: its JSON, audit trail
// included.
func RecordSuffix(id string) string { return "alert:" + id }

// WatchSuffix is the record key suffix of a shipment's watch.
func WatchSuffix(id event.ShipmentID) string { return "watch:" + string(id) }

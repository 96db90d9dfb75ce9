package alerts

import (
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// Where alerts live in the state store, within their shipment's partition
// (state.Store's records and sets, written by the processor's flush).
const (
	// ActiveSet is the set of the partition's alerts that are not resolved.
	ActiveSet = "alerts:active"
	// AllSet is the set of every alert of the partition, by ID.
	AllSet = "alerts:all"
	// OpenShipmentsSet is the set of the partition's shipments that have an
	// alert not resolved: what a list filters on without reading alerts.
	OpenShipmentsSet = "alerts:open-shipments"
)

// ShipmentSetSuffix is the record key suffix of the set of every alert of
// one shipment, by ID: its page reads them without the partition's others.
func ShipmentSetSuffix(id event.ShipmentID) string { return "alerts:of:" + string(id) }

// RecordSuffix is the record key suffix of alert id: its JSON, audit trail
// included.
func RecordSuffix(id string) string { return "alert:" + id }

// WatchSuffix is the record key suffix of a shipment's watch.
func WatchSuffix(id event.ShipmentID) string { return "watch:" + string(id) }

// IndexMembers is how the partition's alert indexes change with transition
// t: the active set, the set of all, and the shipment's own set.
func IndexMembers(t Transition) []state.Member {
	return []state.Member{
		{Set: ActiveSet, Member: t.Alert.ID, Remove: !t.Alert.Active()},
		{Set: AllSet, Member: t.Alert.ID},
		{Set: ShipmentSetSuffix(t.Alert.Shipment), Member: t.Alert.ID},
	}
}

// OpenMember is the shipment's place in OpenShipmentsSet once its watch w
// holds the alerts its latest transitions left active: only a transition
// changes them, so writing it after each one keeps the set exact.
func OpenMember(w *Watch) state.Member {
	return state.Member{Set: OpenShipmentsSet, Member: string(w.Shipment), Remove: len(w.Active) == 0}
}

// Package state holds what inbond knows about each shipment and keeps it in
// Redis.
//
// Shipment and Apply are the model: a pure function turns a shipment's state
// and one canonical event into the next state, deduplicating by device
// sequence number and event ID, so replaying events changes nothing twice.
//
// Store is the Redis side. Every key of a shipment lives under its partition's
// hash tag ({p7}), with the partition's offset and fencing epoch, so one flush
// (one Lua script) writes the changed shipments, their index entries and the
// partition's next offset atomically, also on Redis Cluster. The flush is a
// compare-and-set on the partition's position: it refuses an owner that has
// been fenced off (ErrFenced) and an owner whose idea of the stored offset is
// no longer true (ErrPositionLost), so a flush never lands on state other
// than the state it was computed from.
package state

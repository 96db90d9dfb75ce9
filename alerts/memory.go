package alerts

// Memory is what the rules remember about a shipment between its events,
// beyond its state. Each rule owns its fields; all of them are part of the
// watch stored with the state, so they are exactly-once too.
type Memory struct{}

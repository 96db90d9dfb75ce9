// Package sim plays the carriers: it generates the manifests, carrier events
// and device telemetry of in-bond movements, deterministically from a seed,
// and publishes them through the same MQTT topics and Kafka topics real
// carriers use, on a simulated clock that can run faster than real time.
//
// Generation and publication are separate: Generate returns the messages with
// their simulated publication times, so tests can check them without any
// server, and Play publishes them paced by the clock.
package sim

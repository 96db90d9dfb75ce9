package alerts

import (
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// diversionRule flags an arrival at a port other than the destination in
// force when it arrived: the manifest's, or a diversion approved before
// the arrival (19 CFR 18.5 accepts a diversion only en route, so an
// approval after the arrival does not cover it). It is judged when the
// arrival, an approval or a manifest is applied, and resolves when later
// facts show the port was the destination after all (an amended manifest,
// an approval made en route that arrives late).
func diversionRule(j *judge) {
	switch j.e.Data.(type) {
	case *event.Arrived, *event.DiversionApproved, *event.Manifest:
	default:
		return
	}
	sh := j.sh
	if !j.applied || sh.Arrival == nil || sh.Manifest == nil {
		return
	}
	at, dest := sh.Arrival.Port, sh.Manifest.DestinationPort
	approved := sh.Diversion != nil && !sh.Diversion.At.After(sh.Arrival.At)
	if approved {
		dest = sh.Diversion.Port
	}
	if at == dest {
		j.clear(RuleDiversion, j.now, "arrival port "+port(at)+" is the destination in force")
		return
	}
	msg := "arrived at " + port(at) + " " + stamp(sh.Arrival.At) + " instead of its destination " + port(dest)
	ev := Evidence{EventIDs: []string{j.e.ID}, Port: at}
	if a, ok := portAt(at); ok {
		if b, ok := portAt(dest); ok {
			km := corridors.DistanceKm(a, b)
			msg += ", " + num(km, 0) + " km from it"
			ev.Values = values("km_from_destination", km)
			ev.Lat, ev.Lon = ptr(a.Lat), ptr(a.Lon)
		}
	}
	msg += ", without an approved diversion"
	switch {
	case sh.Diversion != nil && !approved:
		msg += " (a diversion to " + port(sh.Diversion.Port) + " was approved only " + stamp(sh.Diversion.At) + ", after the arrival)"
	case sh.DiversionAsk != nil:
		msg += " (a diversion to " + port(sh.DiversionAsk.Port) + " was requested " + stamp(sh.DiversionAsk.At) + ", not approved)"
	}
	j.raise(RuleDiversion, "arrival:"+string(at)+"@"+sh.Arrival.At.UTC().Format(time.RFC3339Nano), j.now, msg, ev)
}

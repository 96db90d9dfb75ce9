package alerts

import (
	"strconv"
	"sync"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// What messages are made of. They are built only when an alert opens or
// its message changes, never on the path of every event.

// num formats v with the given decimals.
func num(v float64, decimals int) string { return strconv.FormatFloat(v, 'f', decimals, 64) }

// coords formats a position to about a metre.
func coords(lat, lon float64) string { return num(lat, 5) + ", " + num(lon, 5) }

// stamp formats an event time to the minute, in UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

// span formats a duration in hours and minutes.
func span(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return strconv.Itoa(m) + " min"
	case m == 0:
		return strconv.Itoa(h) + " h"
	}
	return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
}

var portNames = sync.OnceValue(func() map[event.PortCode]string {
	out := map[event.PortCode]string{}
	for _, p := range corridors.Ports() {
		if _, ok := out[p.Code]; !ok {
			out[p.Code] = p.Name
		}
	}
	return out
})

// port names a port by code and, when known, by name: "3310 (Sweetgrass, MT)".
func port(code event.PortCode) string {
	if n, ok := portNames()[code]; ok {
		return string(code) + " (" + n + ")"
	}
	return string(code)
}

// portAt returns a port's position.
func portAt(code event.PortCode) (corridors.Point, bool) {
	for _, p := range corridors.Ports() {
		if p.Code == code {
			return p.At, true
		}
	}
	return corridors.Point{}, false
}

func ptr(v float64) *float64 { return &v }

// values builds Evidence.Values from name, value pairs.
func values(kv ...any) map[string]float64 {
	out := make(map[string]float64, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(float64)
	}
	return out
}

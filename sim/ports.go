package sim

import (
	"math"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// alternatePort is the port nearest to code other than itself: where an
// unauthorized diversion arrives.
func alternatePort(code event.PortCode) event.PortCode {
	var from *corridors.Port
	ports := corridors.Ports()
	for i := range ports {
		if ports[i].Code == code {
			from = &ports[i]
		}
	}
	if from == nil {
		return "3802"
	}
	best, dist := event.PortCode(""), math.Inf(1)
	for _, p := range ports {
		if d := corridors.DistanceKm(from.At, p.At); p.Code != code && d < dist {
			best, dist = p.Code, d
		}
	}
	return best
}

package alerts

import (
	"github.com/inbond/inbond/event"
)

// sealRule flags a seal reported broken or opened while the movement is in
// transit, and resolves it when the seal reports intact again (a resealing
// an officer witnessed, say). Only a registered device with a sane clock
// speaks for the seal (judge.trusted): an unregistered one reporting
// "intact" must not clear a broken seal.
func sealRule(j *judge) {
	s, ok := j.e.Data.(*event.SealState)
	if !ok || !j.trusted() {
		return
	}
	switch {
	case s.State == event.SealIntact:
		j.clear(RuleSeal, j.e.Time, "seal "+s.Seal+" reports intact again")
	case inTransit(j.sh):
		j.raise(RuleSeal, j.e.ID, j.e.Time, "seal "+s.Seal+" reported "+s.State+" in transit",
			Evidence{EventIDs: []string{j.e.ID}, Device: j.e.Device})
	}
}

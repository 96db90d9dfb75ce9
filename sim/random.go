package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// RandomScenario makes n shipments from a seed: each on a shipped corridor
// (in turn), with quantities, quality and start times drawn around realistic
// values and no deviations. The same n and seed give the same scenario.
func RandomScenario(n int, seed uint64, start time.Time) (*Scenario, error) {
	known, err := corridors.Corridors()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	sc := &Scenario{Name: fmt.Sprintf("random-%d-%d", n, seed), Start: start}
	carriers := map[event.Mode]event.CarrierID{event.ModePipeline: "ENBR", event.ModeTruck: "PRTK", event.ModeRail: "SOO",
		event.ModeVessel: "MXTK", event.ModeBarge: "KIRB"}
	for i := range n {
		c := known[ids[i%len(ids)]]
		sp := ShipmentSpec{
			ID: event.ShipmentID(fmt.Sprintf("RND-%05d", i)), Corridor: c.ID,
			StartAfter: time.Duration(rng.IntN(48*60)) * time.Minute,
			EntryType:  []event.EntryType{event.EntryIT, event.EntryTE}[rng.IntN(2)],
			Country:    "CA", InBondSerial: 40000000 + i,
		}
		sp.Importer.Name, sp.Importer.ID = fmt.Sprintf("Importer %d", rng.IntN(20)), "12-3456789AB"
		sp.Carrier.SCAC, sp.Carrier.IRSNumber = carriers[c.Mode], "98-7654321AA"
		gasCorridor := c.Mode == event.ModePipeline && c.EntryMeter != nil && (c.ID != "PIPELINE-NECHE-PORTHURON-CRUDE")
		switch {
		case gasCorridor:
			sp.Product, sp.HeatingValue = event.ProductGas, 1000+float64(rng.IntN(100))
			sp.Quantity, sp.FlowRate = float64(200_000+rng.IntN(1_000_000)), float64(20_000+rng.IntN(40_000))
		default:
			sp.Product = event.ProductCrude
			sp.APIGravity, sp.SulfurPct = 18+rng.Float64()*24, 0.2+rng.Float64()*3
			sp.Quantity = map[event.Mode]float64{event.ModePipeline: 300_000, event.ModeTruck: 220, event.ModeRail: 60_000,
				event.ModeVessel: 500_000, event.ModeBarge: 25_000}[c.Mode] * (0.8 + rng.Float64()*0.4)
			sp.FlowRate = float64(15_000 + rng.IntN(15_000))
		}
		if c.Mode == event.ModeVessel || c.Mode == event.ModeBarge {
			sp.Country = "MX"
		}
		sp.Quantity = round(sp.Quantity, 0)
		sp.APIGravity, sp.SulfurPct = round(sp.APIGravity, 1), round(sp.SulfurPct, 2)
		sc.Shipments = append(sc.Shipments, sp)
	}
	return sc, nil
}

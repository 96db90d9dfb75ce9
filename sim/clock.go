package sim

import (
	"sync"
	"time"
)

// Clock is the simulated carriers' time: from a scenario start in the past,
// running Speed times real time since Start. Whatever stamps receipt in a
// live simulation (the gateways, the officers' commands) takes it: with the
// wall clock, receipt would soon lie before the carriers' observations, or,
// once simulated time passes today, far behind them. It is safe for
// concurrent use.
type Clock struct {
	mu            sync.Mutex // guards the rest
	simAt, wallAt time.Time
	speed         float64
}

// Start sets the clock to at, running speed times real time from now.
func (c *Clock) Start(at time.Time, speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.simAt, c.wallAt, c.speed = at, time.Now(), speed
}

// Now is the simulated time; the wall clock before the first Start.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.simAt.IsZero() {
		return time.Now()
	}
	return c.simAt.Add(time.Duration(float64(time.Since(c.wallAt)) * c.speed))
}

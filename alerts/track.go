package alerts

import (
	"math"
	"sync"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// GapMemory is when the shipment's registered devices were last heard:
// the latest ClockTime of their applied telemetry, and which event that was.
type GapMemory struct {
	At     time.Time      `json:"at,omitzero"`
	Event  string         `json:"event,omitempty"`
	Device event.DeviceID `json:"device,omitempty"`
}

// ArrivalMemory is when the telemetry showed the goods at their
// destination, whatever the carrier reports: a conveyance's first fix at
// its corridor's end (atDestination), or the moment a pipeline's exit
// meter stopped growing once the whole batch had had time to come through
// (see pipelineArrival).
type ArrivalMemory struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"` // the event that showed it
	// ReportDue is when the arrival becomes late to report (ReportDue of
	// At with the business days allowed).
	ReportDue time.Time `json:"report_due"`
}

// ArrivalRadiusKm is how near its corridor's end a conveyance's fix must
// be to show it arrived, outside the destination's own stop areas.
const ArrivalRadiusKm = 1.0

// AtDestination reports whether p is at corridor c's destination: within
// ArrivalRadiusKm of the end of its line, or in an allowed stop area that
// holds that end (the destination's terminal, yard or port of entry, which
// a conveyance reaches before the polyline's last point, drawn to a few
// kilometres).
func AtDestination(c *corridors.Corridor, p corridors.Point) bool {
	pts := c.Line().Points
	if corridors.DistanceKm(p, pts[len(pts)-1]) <= ArrivalRadiusKm {
		return true
	}
	for _, s := range destinationAreas(c) {
		if corridors.DistanceKm(p, corridors.Point{Lat: s.Lat, Lon: s.Lon}) <= s.RadiusKm {
			return true
		}
	}
	return false
}

// destinationAreas are c's stop areas that hold its line's end, found once
// per corridor.
func destinationAreas(c *corridors.Corridor) []corridors.Stop {
	if v, ok := destAreas.Load(c); ok {
		return v.([]corridors.Stop)
	}
	pts := c.Line().Points
	end := pts[len(pts)-1]
	var out []corridors.Stop
	for _, s := range c.Stops {
		if corridors.DistanceKm(end, corridors.Point{Lat: s.Lat, Lon: s.Lon}) <= s.RadiusKm {
			out = append(out, s)
		}
	}
	v, _ := destAreas.LoadOrStore(c, out)
	return v.([]corridors.Stop)
}

var destAreas sync.Map // *corridors.Corridor → []corridors.Stop

// track updates the memory several rules share, before the rules run:
// when the devices were last heard, the meter tracks, and the physical
// arrival. It records in j what the rules need of the memory as it was.
func (j *judge) track() {
	e, m := j.e, &j.w.Memory
	j.heardBefore = m.Heard
	if !j.applied {
		return
	}
	if j.registered() && j.now.After(m.Heard.At) && j.telemetry() {
		m.Heard = GapMemory{At: j.now, Event: e.ID, Device: e.Device}
	}
	if !j.trusted() {
		return
	}
	switch d := e.Data.(type) {
	case *event.MeterReading:
		if t := m.meter(d.Meter, true); t != nil {
			j.recorded = t.record(j.env, j.now, d, e.ID)
		}
		if m.Arrival == nil && j.recorded {
			if at, ok := pipelineArrival(j); ok {
				j.setArrival(at.Time())
			}
		}
	case *event.Position:
		if m.Arrival != nil {
			return
		}
		c := j.corridor()
		if c == nil || !c.Mode.Conveyance() {
			return
		}
		if AtDestination(c, corridors.Point{Lat: d.Lat, Lon: d.Lon}) {
			j.setArrival(j.now)
		}
	}
}

func (j *judge) setArrival(at time.Time) {
	j.w.Memory.Arrival = &ArrivalMemory{At: at, Event: j.e.ID, ReportDue: ReportDue(at, j.env.Limits.ReportBusinessDays)}
	j.arrivedNow = true
}

// pipelineArrival is when a pipeline batch physically arrived: the last
// reading at which the exit meter's totalizer grew, once a later reading
// shows it still, the entry meter has stopped too, and the exit's flow
// ended at least 90 % of the line-fill time after the entry's (the batch's
// tail has had time to come through; a stall mid-line is not an arrival).
// The entry's flow ended after its reading before its last growth
// (GrewFrom): across a gap in its readings, that is all that is known.
func pipelineArrival(j *judge) (Stamp, bool) {
	in, out := j.meters()
	if in == nil || out == nil || in.Start.IsZero() || out.Start.IsZero() {
		return 0, false
	}
	lag := out.Start.Sub(in.Start)
	if out.GrewAt.IsZero() || !out.Last.T.After(out.GrewAt) || !in.Last.T.After(in.GrewAt) {
		return 0, false
	}
	if out.GrewAt.Sub(in.GrewFrom) < lag*9/10 {
		return 0, false
	}
	return out.GrewAt, true
}

// meters returns the tracks of the manifest's entry and exit meters.
func (j *judge) meters() (in, out *MeterTrack) {
	man := j.sh.Manifest
	if man == nil || man.Mode != event.ModePipeline {
		return nil, nil
	}
	return j.w.Memory.meter(man.EntryMeter, false), j.w.Memory.meter(man.ExitMeter, false)
}

// MaxMeters bounds the meters a shipment's memory tracks: a pipeline
// movement has two; readings of further meters are not tracked.
const MaxMeters = 4

// MaxSeries bounds a meter's compressed totalizer; past it the oldest
// points go. The rules need the last ImbalanceWindow plus a line fill of
// the entry meter's: with the simulator's flow (0.3 % wander a reading) a
// point is kept about every 2.5 hours of flow, so 160 points hold some 16
// days of continuous flow; a window reaching back further than the points
// kept is not judged.
const MaxSeries = 160

// MaxPressures bounds the pressure readings kept per meter (those within
// PressureWindow).
const MaxPressures = 16

// flowTolSeconds sets a meter's compression tolerance: the volume that
// flows in this many seconds at the meter's first steady rate. Points of
// the compressed totalizer are within it of the readings they stand for.
const flowTolSeconds = 5

// Stamp is an event time in whole unix milliseconds: how the meter tracks
// keep times, short in JSON, quick to encode, and the same after a
// restart as before it. 0 is no time.
type Stamp int64

func stampOf(t time.Time) Stamp {
	if t.IsZero() {
		return 0
	}
	return Stamp(t.UnixMilli())
}

// Time is s as a time.Time (the zero time for 0).
func (s Stamp) Time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(s)).UTC()
}

// IsZero reports whether s is no time.
func (s Stamp) IsZero() bool { return s == 0 }

// After reports whether s is after u.
func (s Stamp) After(u Stamp) bool { return s > u }

// Before reports whether s is before u.
func (s Stamp) Before(u Stamp) bool { return s < u }

// Sub is s - u.
func (s Stamp) Sub(u Stamp) time.Duration { return time.Duration(s-u) * time.Millisecond }

// Add is s + d, to the millisecond (truncated).
func (s Stamp) Add(d time.Duration) Stamp { return s + Stamp(d/time.Millisecond) }

// Sample is a reading's value at its time.
type Sample struct {
	T Stamp   `json:"t"`
	V float64 `json:"v"`
	// Blind marks a point of a compressed totalizer reached across a gap in
	// the readings: what happened between the point before and this one is
	// unknown (a batch may have ended in it), so it is not interpolated.
	Blind bool `json:"blind,omitempty"`
}

// blindAfter is how many reading intervals without a reading make a gap
// across which a totalizer is not interpolated.
const blindAfter = 3

// MeterTrack is what the rules keep of one pipeline meter: its totalizer
// compressed to a few points with a bounded error (the swing-door
// algorithm: a reading is dropped when the line between the points kept
// passes within Tol of it), when its flow started and last grew, and its
// recent pressures.
type MeterTrack struct {
	Meter  event.MeterID `json:"meter"`
	Last   Sample        `json:"last"`              // the latest reading's totalizer
	Prev   Stamp         `json:"prev,omitempty"`    // the reading before it
	Zero   Stamp         `json:"zero,omitempty"`    // the last reading before any volume
	First  Sample        `json:"first,omitzero"`    // the first reading with volume
	Start  Stamp         `json:"start,omitempty"`   // when the flow began, from the first two readings with volume
	GrewAt Stamp         `json:"grew_at,omitempty"` // the latest reading at which the totalizer grew
	// GrewFrom is the reading before GrewAt: the flow last ran somewhere
	// between the two.
	GrewFrom Stamp         `json:"grew_from,omitempty"`
	Step     time.Duration `json:"step,omitempty"` // the latest interval between readings that was no gap
	// Series are the points kept of the totalizer from Start on; Last
	// closes it. Between two points the totalizer is linear within Tol.
	Series []Sample `json:"series,omitempty"`
	Tol    float64  `json:"tol,omitempty"`
	// Lo and Hi bound the slopes (volume per second) from the last point
	// that pass within Tol of every reading dropped since (Door: any).
	Lo   float64 `json:"lo,omitempty"`
	Hi   float64 `json:"hi,omitempty"`
	Door bool    `json:"door,omitempty"`
	// Pressures are the readings of the last PressureWindow (V in psig).
	Pressures []Sample `json:"pressures,omitempty"`
	// Reading is the latest reading's event, for evidence.
	Reading string `json:"reading,omitempty"`
}

func (m *Memory) meter(id event.MeterID, create bool) *MeterTrack {
	for _, t := range m.Meters {
		if t.Meter == id {
			return t
		}
	}
	if !create || len(m.Meters) >= MaxMeters {
		return nil
	}
	t := &MeterTrack{Meter: id}
	m.Meters = append(m.Meters, t)
	return t
}

// record takes a reading; readings not after the latest are ignored.
func (t *MeterTrack) record(env *Env, now time.Time, d *event.MeterReading, id string) bool {
	at := stampOf(now)
	if !t.Last.T.IsZero() && !at.After(t.Last.T) {
		return false
	}
	r := Sample{T: at, V: d.Cumulative}
	prev := t.Last
	if r.V > prev.V {
		t.GrewAt, t.GrewFrom = at, prev.T
	}
	blind := false
	if !prev.T.IsZero() {
		step := at.Sub(prev.T)
		if blind = t.Step > 0 && step > blindAfter*t.Step; !blind {
			t.Step = step
		}
	}
	t.Prev, t.Last = prev.T, r
	t.Reading = id
	t.recordPressure(env, at, d.Pressure)
	switch {
	case !t.Start.IsZero():
		t.door(prev, r, blind)
	case r.V <= 0:
		t.Zero = at
	case t.First.T.IsZero():
		t.First = r
	case r.V > t.First.V:
		slope := (r.V - t.First.V) / r.T.Sub(t.First.T).Seconds()
		start := t.First.T.Add(-time.Duration(t.First.V / slope * float64(time.Second)))
		if !t.Zero.IsZero() && start.Before(t.Zero) {
			start = t.Zero
		}
		t.Start, t.Tol = start, slope*flowTolSeconds
		t.Series = []Sample{{T: start}}
		t.Door = false
		t.door(Sample{T: start}, t.First, false)
		t.door(t.First, r, blind)
	}
	return true
}

// door adds reading r, which follows reading prev, to the compressed
// series; blind when there is a gap in the readings between them.
func (t *MeterTrack) door(prev, r Sample, blind bool) {
	a := t.Series[len(t.Series)-1]
	if blind {
		if t.Door && prev.T.After(a.T) {
			t.Series = append(t.Series, prev)
		}
		r.Blind = true
		t.Series = append(t.Series, r)
		if len(t.Series) > MaxSeries {
			t.Series = append(t.Series[:0], t.Series[len(t.Series)-MaxSeries:]...)
		}
		t.Door = false
		return
	}
	if t.Door {
		dt := r.T.Sub(a.T).Seconds()
		if s := (r.V - a.V) / dt; s >= t.Lo && s <= t.Hi {
			t.Lo = math.Max(t.Lo, (r.V-t.Tol-a.V)/dt)
			t.Hi = math.Min(t.Hi, (r.V+t.Tol-a.V)/dt)
			return
		}
		// The line to r misses a reading dropped since a: keep prev.
		t.Series = append(t.Series, prev)
		if len(t.Series) > MaxSeries {
			t.Series = append(t.Series[:0], t.Series[len(t.Series)-MaxSeries:]...)
		}
		a = prev
	}
	if !r.T.After(a.T) {
		return
	}
	dt := r.T.Sub(a.T).Seconds()
	t.Lo, t.Hi, t.Door = (r.V-t.Tol-a.V)/dt, (r.V+t.Tol-a.V)/dt, true
}

// at is the totalizer at time x, interpolated, and how far off it may be:
// 0 where it is exact (before the flow started, at a point kept, at the
// latest reading), Tol between. ok is false when x is past the latest
// reading, before the points kept, or the flow's start is not known yet.
func (t *MeterTrack) at(x Stamp) (v, tol float64, ok bool) {
	switch {
	case x.After(t.Last.T):
		return 0, 0, false
	case t.Start.IsZero():
		return 0, 0, t.Last.V <= 0
	case !x.After(t.Start):
		return 0, 0, true
	case x.Before(t.Series[0].T):
		return 0, 0, false // pruned
	}
	n := len(t.Series)
	// The points are Series then Last; find the segment holding x.
	point := func(i int) Sample {
		if i == n {
			return t.Last
		}
		return t.Series[i]
	}
	lo, hi := 0, n // point(lo).T <= x <= point(hi).T
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if point(mid).T.After(x) {
			hi = mid
		} else {
			lo = mid
		}
	}
	a, b := point(lo), point(hi)
	switch {
	case x == a.T:
		return a.V, 0, true
	case x == b.T:
		return b.V, 0, true
	case b.Blind:
		return 0, 0, false
	}
	return a.V + (b.V-a.V)*float64(x.Sub(a.T))/float64(b.T.Sub(a.T)), t.Tol, true
}

// prune forgets the points no judgment will need: those before cutoff but
// the last of them, which interpolation from cutoff on still needs.
func (t *MeterTrack) prune(cutoff Stamp) {
	i := 0
	for i+1 < len(t.Series) && !t.Series[i+1].T.After(cutoff) {
		i++
	}
	if i > 0 {
		t.Series = append(t.Series[:0], t.Series[i:]...)
	}
}

// recordPressure keeps the readings of the last PressureWindow.
func (t *MeterTrack) recordPressure(env *Env, at Stamp, p float64) {
	from := at.Add(-env.Limits.PressureWindow)
	i := 0
	for i < len(t.Pressures) && t.Pressures[i].T.Before(from) {
		i++
	}
	t.Pressures = append(t.Pressures[:0], t.Pressures[i:]...)
	if len(t.Pressures) >= MaxPressures {
		t.Pressures = append(t.Pressures[:0], t.Pressures[1:]...)
	}
	t.Pressures = append(t.Pressures, Sample{T: at, V: p})
}

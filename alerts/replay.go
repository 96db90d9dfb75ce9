package alerts

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
)

// DeviceSeqs is what the replay rule remembers of one device (a carrier's
// device: after a transfer the new carrier's GPS-1 is another): its last
// MaxSeqs applied sequence numbers, each with the time it claimed and a
// fingerprint of that time and its payload, in a ring.
type DeviceSeqs struct {
	Carrier event.CarrierID  `json:"carrier"`
	Device  event.DeviceID   `json:"device"`
	Seen    [MaxSeqs]SeqSeen `json:"seen"`
	Next    int              `json:"next"` // where the ring writes next
	Used    Stamp            `json:"used"` // the latest applied event's time: the least recently used device is the one forgotten
}

// SeqSeen is one applied sequence number: the time it claimed (to the
// millisecond, for the message) and a fingerprint of that time (to the
// nanosecond) and its payload.
type SeqSeen struct {
	Seq  uint64 `json:"s"`
	At   Stamp  `json:"t"`
	Hash uint32 `json:"h"`
}

// MaxSeqs is how many recent sequence numbers the replay rule remembers
// per device: a redelivery comes within a few messages of the original
// (a gateway restart redelivers what it had not acknowledged: a device's
// last message or two). A reused number older than that is taken for a
// redelivery (unflagged).
const MaxSeqs = 4

// MaxDevices bounds the devices the replay rule remembers per shipment.
const MaxDevices = 16

// replayRule flags two things, in one alert per shipment:
//
//   - A device sequence number reused with other content. state.Apply
//     refuses any number not above the device's last, so the second use
//     reaches the rules as a duplicate (applied false). A redelivery is
//     byte-identical (same observed time, same payload) and says nothing;
//     a replay claims another time or carries another payload than the
//     number's first use, remembered in DeviceSeqs.
//   - An event time ahead of the gateway's receipt by more than FutureClock.
//
// These are facts about what was received: the alert is dated at the
// receipt (recvtime) of the event that shows them, and it is not resolved
// by later traffic. A skipped sequence number is not flagged: devices
// skip numbers when they reboot, and the gap rule sees lost telemetry.
func replayRule(j *judge) {
	e := j.e
	if e.Device != "" && e.Sequence != 0 {
		h := fingerprint(e)
		if j.applied {
			j.w.Memory.seqs(e.Carrier, e.Device).record(e.Sequence, e.Time, h)
		} else if d := j.w.Memory.findSeqs(e.Carrier, e.Device); d != nil {
			if s, ok := d.find(e.Sequence); ok && s.Hash != h {
				what := "another payload"
				if s.At != stampOf(e.Time) {
					what = "the observed time " + e.Time.UTC().Format(time.RFC3339Nano) + " instead of " +
						s.At.Time().Format(time.RFC3339Nano)
				}
				j.raiseReplay("seq:"+string(e.Carrier)+"/"+string(e.Device)+"/"+strconv.FormatUint(e.Sequence, 10)+"@"+
					strconv.FormatInt(e.Time.UnixNano(), 10),
					"device "+string(e.Device)+" reused sequence number "+strconv.FormatUint(e.Sequence, 10)+" with "+what,
					"replayed_seq", float64(e.Sequence))
			}
		}
	}
	if ahead := aheadBy(e); ahead > j.env.Limits.FutureClock {
		who := "carrier " + string(e.Carrier)
		if e.Device != "" {
			who = "device " + string(e.Device)
		}
		j.raiseReplay("clock:"+e.ID,
			who+" claims the time "+stamp(e.Time)+", "+span(ahead)+" ahead of its receipt "+stamp(e.ReceivedTime)+
				" (limit "+span(j.env.Limits.FutureClock)+")",
			"clock_ahead_minutes", ahead.Minutes())
	}
}

// raiseReplay opens the replay alert with a finding, or adds the finding to
// the open one (at most maxFindings of them).
func (j *judge) raiseReplay(trigger, finding, name string, v float64) {
	const maxFindings = 4
	at := j.now
	if j.e.ReceivedTime.After(at) {
		at = j.e.ReceivedTime
	}
	ev := Evidence{EventIDs: []string{j.e.ID}, Device: j.e.Device, Values: map[string]float64{}}
	msg := finding
	if a := j.w.Active[RuleReplay]; a != nil {
		if strings.Contains(a.Message, finding) || strings.Count(a.Message, "; ")+1 >= maxFindings {
			return
		}
		msg = a.Message + "; " + finding
		ev.EventIDs = append(slices.Clone(a.Evidence.EventIDs), j.e.ID)
		for k, x := range a.Evidence.Values {
			ev.Values[k] = x
		}
	}
	if old, ok := ev.Values[name]; !ok || v > old {
		ev.Values[name] = v
	}
	if name == "clock_ahead_minutes" {
		ev.Values["clock_ahead_minutes_limit"] = j.env.Limits.FutureClock.Minutes()
	}
	j.raise(RuleReplay, trigger, at, msg, ev)
}

// seqs returns the device's ring, making room for it when it is new.
func (m *Memory) seqs(c event.CarrierID, d event.DeviceID) *DeviceSeqs {
	if s := m.findSeqs(c, d); s != nil {
		return s
	}
	s := &DeviceSeqs{Carrier: c, Device: d}
	if len(m.Replay) < MaxDevices {
		m.Replay = append(m.Replay, s)
		return s
	}
	oldest := 0
	for i, x := range m.Replay {
		if x.Used < m.Replay[oldest].Used {
			oldest = i
		}
	}
	m.Replay[oldest] = s
	return s
}

func (m *Memory) findSeqs(c event.CarrierID, d event.DeviceID) *DeviceSeqs {
	for _, s := range m.Replay {
		if s.Device == d && s.Carrier == c {
			return s
		}
	}
	return nil
}

func (d *DeviceSeqs) record(seq uint64, at time.Time, h uint32) {
	d.Seen[d.Next] = SeqSeen{Seq: seq, At: stampOf(at), Hash: h}
	d.Next = (d.Next + 1) % MaxSeqs
	if u := stampOf(at); u > d.Used {
		d.Used = u
	}
}

func (d *DeviceSeqs) find(seq uint64) (SeqSeen, bool) {
	for _, s := range d.Seen {
		if s.Seq == seq {
			return s, true
		}
	}
	return SeqSeen{}, false
}

// fingerprint hashes an event's observed time, type and payload, a word
// at a time and without allocating: what tells a replay (another time or
// other readings under a number already used) from a redelivery.
func fingerprint(e *event.Envelope) uint32 {
	h := uint64(0x9e3779b97f4a7c15)
	word := func(w uint64) {
		h ^= w
		h *= 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	str := func(s string) {
		for len(s) >= 8 {
			word(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
				uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
			s = s[8:]
		}
		var w uint64
		for i := 0; i < len(s); i++ {
			w |= uint64(s[i]) << (8 * i)
		}
		word(w ^ uint64(len(s))<<56)
	}
	f := func(v float64) { word(math.Float64bits(v)) }
	opt := func(v *float64) {
		if v == nil {
			word(0x7ff8dead)
			return
		}
		f(*v)
	}
	word(uint64(e.Time.UnixNano()))
	switch d := e.Data.(type) {
	case *event.Position:
		word(1)
		f(d.Lat)
		f(d.Lon)
		f(d.SpeedKmh)
		f(d.HeadingDeg)
		opt(d.AccuracyM)
	case *event.MeterReading:
		word(2)
		str(string(d.Meter))
		f(d.FlowRate)
		f(d.Cumulative)
		opt(d.GrossCumulative)
		f(d.Pressure)
		f(d.Temperature)
	case *event.QualityReading:
		word(3)
		str(string(d.Meter))
		for _, v := range []*float64{d.APIGravity, d.SulfurPct, d.BSWPct, d.HeatingValue, d.H2SGrain100Scf, d.CO2Pct} {
			opt(v)
		}
	case *event.SealState:
		word(4)
		str(d.Seal)
		str(d.State)
	default:
		str(string(e.Type))
	}
	return uint32(h ^ h>>32)
}

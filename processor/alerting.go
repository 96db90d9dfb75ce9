package processor

import (
	"container/heap"
	"encoding/json"

	"fmt"
	gojson "github.com/goccy/go-json"
	"sync/atomic"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
	"go.uber.org/zap"
)

// alerting is a partition loop's share of the deviation rules: the
// partition's event-time clock, its shipments' timers, and what the rules
// produced since the last flush. It is confined to the loop's goroutine.
//
// Time. The clock is the latest event time the partition applied (events
// whose time is further ahead of their receipt than the rules allow do not
// move it: a device's clock is no watermark), and while the partition is idle
// it moves on from there at the pace of wall time, never jumping to the wall
// clock (unless FrozenClock, as in a replay). The watermark that fires
// timers stays Config.Lateness behind the clock, because one shipment's
// channels (MQTT telemetry, Kafka milestones) race each other: a timer fires
// once the watermark passes its due time, with the rules told the due time
// itself as "now", so what it opens does not depend on when the check ran;
// a shipment's own due timers fire before its next event later than the due
// time by the lateness is judged. With FrozenClock (a replay) the timers of
// silent shipments fire only once the traffic is in (Processor.Settle), so
// what a replay writes never depends on when a check happened to run. Timers and the clock are flushed with the
// state, so they survive restarts and rebalances.
type alerting struct {
	env      *alerts.Env
	frozen   bool
	settled  *atomic.Bool  // with frozen: the traffic is in, silent shipments' timers may fire
	lateness int64         // ms the watermark stays behind the clock: how far channels may lag each other
	latest   *atomic.Int64 // the instance's latest event time, which a frozen clock follows
	clock    int64         // unix ms
	idleAt   time.Time     // wall time the clock last moved by an event
	timers   map[event.ShipmentID]int64
	due      dueHeap

	// Since the last flush:
	changedTimers map[event.ShipmentID]int64
	records       []state.Record
	members       []state.Member
	outbox        [][]byte
	transitions   int
}

func newAlerting(env *alerts.Env, frozen bool, settled *atomic.Bool, lateness time.Duration, latest *atomic.Int64, clock int64, timers map[event.ShipmentID]int64) *alerting {
	a := &alerting{env: env, frozen: frozen, settled: settled, lateness: lateness.Milliseconds(), latest: latest, clock: clock, idleAt: time.Now(), timers: timers, changedTimers: map[event.ShipmentID]int64{}}
	for id, due := range timers {
		a.due = append(a.due, dueItem{id, due})
	}
	heap.Init(&a.due)
	return a
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// observe judges e for en, firing en's own timers due by e's time first.
// A command (an officer's action) is applied to its alert and moves no
// clock: it carries the wall time it was given at.
func (a *alerting) observe(en *entry, e *event.Envelope, applied bool, log *zap.Logger) {
	if c, ok := e.Data.(*event.AlertCommand); ok {
		if !applied {
			return
		}
		ts, err := en.watch.Command(e, c)
		if err != nil {
			log.Warn("command refused", zap.String("event", e.ID), zap.Error(err))
		}
		a.take(en, ts, log)
		return
	}
	t := a.timeOf(e)
	a.fireOwn(en, t-a.lateness, log)
	a.take(en, en.watch.Observe(a.env, en.sh, e, applied), log)
	if t > a.clock {
		a.clock, a.idleAt = t, time.Now()
		for old := a.latest.Load(); t > old && !a.latest.CompareAndSwap(old, t); old = a.latest.Load() {
		}
	}
	a.reschedule(en)
}

// timeOf is how far e moves the clock: its time, but no further than the
// rules allow a clock to run ahead of receipt, so one device's clock far in
// the future fires no timer early.
func (a *alerting) timeOf(e *event.Envelope) int64 {
	t := ms(e.Time)
	if !e.ReceivedTime.IsZero() {
		t = min(t, ms(e.ReceivedTime.Add(a.env.Limits.FutureClock)))
	}
	return t
}

// fireOwn ticks en for each of its timers due at or before until.
func (a *alerting) fireOwn(en *entry, until int64, log *zap.Logger) {
	for i := 0; i < 16; i++ { // a rule whose timer re-arms at once cannot spin
		due, ok := a.timers[en.sh.ID]
		if !ok || due > until {
			return
		}
		a.take(en, en.watch.Tick(a.env, en.sh, time.UnixMilli(due).UTC()), log)
		if !a.reschedule(en) {
			return
		}
	}
}

// reschedule records en's next due time; it reports whether it changed.
func (a *alerting) reschedule(en *entry) bool {
	var due int64
	if t := en.watch.Due(a.env, en.sh); !t.IsZero() {
		due = ms(t)
	}
	if old, ok := a.timers[en.sh.ID]; ok && old == due || !ok && due == 0 {
		return false
	}
	if due == 0 {
		delete(a.timers, en.sh.ID)
	} else {
		a.timers[en.sh.ID] = due
		heap.Push(&a.due, dueItem{en.sh.ID, due})
	}
	a.changedTimers[en.sh.ID] = due
	return true
}

// take queues transitions for the next flush: the alert records, the
// indexes (active, all, the shipment's, the shipments with open alerts) and
// the outbox.
func (a *alerting) take(en *entry, ts []alerts.Transition, log *zap.Logger) {
	for _, t := range ts {
		rec, err := json.Marshal(t.Alert)
		if err == nil {
			var out []byte
			if out, err = t.Marshal(); err == nil {
				a.records = append(a.records, state.Record{Suffix: alerts.RecordSuffix(t.Alert.ID), Value: rec})
				a.members = append(a.members, alerts.IndexMembers(t)...)
				a.outbox = append(a.outbox, outboxItem(string(event.TopicAlerts), string(t.Alert.Shipment), out))
				a.transitions++
				continue
			}
		}
		log.Error("alert transition not encodable; dropped", zap.String("alert", t.Alert.ID), zap.Error(err))
	}
	if len(ts) > 0 {
		en.watchChanged = true
		a.members = append(a.members, alerts.OpenMember(en.watch))
	}
}

// idle moves the clock on at wall pace while no event does, and returns the
// shipments whose timers are due by it.
func (a *alerting) idle(now time.Time) []event.ShipmentID {
	var watermark int64
	switch {
	case a.frozen && !a.settled.Load():
		return nil
	case a.frozen:
		a.clock = max(a.clock, a.latest.Load()) // every event is in: no lateness to allow for
	case a.clock > 0:
		if step := now.Sub(a.idleAt); step > 0 {
			a.clock += step.Milliseconds()
			a.idleAt = a.idleAt.Add(time.Duration(step.Milliseconds()) * time.Millisecond)
		}
	}
	var ids []event.ShipmentID
	for watermark = a.watermark(); len(a.due) > 0 && a.due[0].due <= watermark; {
		it := heap.Pop(&a.due).(dueItem)
		if a.timers[it.id] == it.due { // else superseded: a later push holds the current one
			ids = append(ids, it.id)
		}
	}
	return ids
}

// extra is what the next flush writes for the rules, given the entries it
// writes (whose watches changed).
func (a *alerting) extra(entries []*entry) *state.Extra {
	x := &state.Extra{Records: a.records, Members: a.members, Outbox: a.outbox, Clock: a.clock}
	for _, en := range entries {
		if b, err := gojson.Marshal(en.watch); err == nil { // goccy: a watch is encoded at every flush that touches its shipment
			x.Records = append(x.Records, state.Record{Suffix: alerts.WatchSuffix(en.sh.ID), Value: b})
		}
	}
	for id, due := range a.changedTimers {
		x.Timers = append(x.Timers, state.Timer{Shipment: id, Due: due})
	}
	return x
}

// flushed forgets what a successful flush wrote.
func (a *alerting) flushed() {
	a.records, a.members, a.outbox, a.transitions = nil, nil, nil, 0
	clear(a.changedTimers)
}

// decodeWatch reads a stored watch of id; a new one when b is nil.
func decodeWatch(id event.ShipmentID, b []byte) (*alerts.Watch, error) {
	w := alerts.NewWatch(id)
	if b != nil {
		if err := json.Unmarshal(b, w); err != nil {
			return nil, fmt.Errorf("watch of %s: %w", id, err)
		}
	}
	return w, nil
}

// dueItem is a shipment's timer in the heap.
type dueItem struct {
	id  event.ShipmentID
	due int64
}

// dueHeap orders timers by due time; superseded items are skipped on pop.
type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// watermark is how far the idle timers may fire: the clock, less the
// lateness unless the clock is frozen and settled.
func (a *alerting) watermark() int64 {
	if a.frozen && a.settled.Load() {
		return a.clock
	}
	return a.clock - a.lateness
}

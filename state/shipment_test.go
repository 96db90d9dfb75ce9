package state_test

import (
	"errors"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/state"
)

var t0 = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func manifest(entry event.EntryType) *event.Manifest {
	return &event.Manifest{
		InBondNumber: event.InBondNumber(25770000), EntryType: entry, Mode: event.ModePipeline, Product: event.ProductCrude,
		HTS: "2709.00.20", DeclaredQuality: event.Quality{APIGravity: ptr(32), SulfurPct: ptr(1)}, DeclaredQuantity: 1000,
		Unit: event.VolumeBarrels, Carrier: event.BondedCarrier{SCAC: "ENBR"}, OriginPort: "3404", DestinationPort: "3802",
		EntryMeter: "IN", ExitMeter: "OUT", CreatedAt: t0, Deadline: t0.AddDate(0, 0, 30),
	}
}

// ev builds an event of shipment S1; n orders it and names it.
func ev(n int, p event.Payload) *event.Envelope {
	return &event.Envelope{ID: "id-" + string(rune('a'+n)), Type: p.EventType(), Subject: "S1", Carrier: "ENBR",
		Time: t0.Add(time.Duration(n) * time.Minute), Data: p}
}

func meter(n int, seq uint64, id event.MeterID, cum float64) *event.Envelope {
	e := ev(n, &event.MeterReading{Meter: id, Cumulative: cum, Unit: event.VolumeBarrels, FlowRate: 10})
	e.Device, e.Sequence = "FC", seq
	return e
}

// otherCarrier moves e to another carrier (as after a transfer), same device name.
func otherCarrier(e *event.Envelope) *event.Envelope {
	e.Carrier, e.ID = "TCPL", e.ID+"-tcpl"
	return e
}

func TestStatusMachine(t *testing.T) {
	cases := []struct {
		name   string
		events []*event.Envelope
		status state.Status
		dest   event.PortCode
	}{
		{"telemetry before the manifest", []*event.Envelope{meter(0, 1, "IN", 5)}, state.StatusUndeclared, ""},
		{"declared", []*event.Envelope{ev(0, manifest(event.EntryTE))}, state.StatusDeclared, "3802"},
		{"departed", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{Port: "3404"})}, state.StatusInTransit, "3802"},
		{"late manifest keeps transit", []*event.Envelope{ev(0, &event.Departed{Port: "3404"}), ev(1, manifest(event.EntryTE))}, state.StatusInTransit, "3802"},
		{"arrived", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{Port: "3404"}), ev(2, &event.Arrived{Port: "3802"})}, state.StatusArrived, "3802"},
		{"never backwards", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Arrived{Port: "3802"}), ev(2, &event.Departed{Port: "3404"})}, state.StatusArrived, "3802"},
		{"T&E exported", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Arrived{Port: "3802"}), ev(2, &event.Exported{Port: "3802"})}, state.StatusExported, "3802"},
		{"IT concluded by delivery", []*event.Envelope{ev(0, manifest(event.EntryIT)), ev(1, &event.Arrived{Port: "3802"}), ev(2, &event.Delivered{Ticket: "T", Gross: 10, Net: 9, Unit: event.VolumeBarrels})}, state.StatusConcluded, "3802"},
		{"T&E delivery does not conclude", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Delivered{Ticket: "T", Gross: 10, Net: 9, Unit: event.VolumeBarrels})}, state.StatusDeclared, "3802"},
		{"requested diversion changes nothing yet", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{}), ev(2, &event.DiversionRequested{To: "3801", Reason: "r"})}, state.StatusInTransit, "3802"},
		{"approved diversion", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{}), ev(2, &event.DiversionRequested{To: "3801", Reason: "r"}), ev(3, &event.DiversionApproved{To: "3801", Authorization: "A1"})}, state.StatusDiverted, "3801"},
		{"manifest amendment keeps an approved diversion", []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{}), ev(2, &event.DiversionApproved{To: "3801", Authorization: "A1"}), ev(3, manifest(event.EntryTE))}, state.StatusDiverted, "3801"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sh := state.New("S1")
			for _, e := range c.events {
				if _, err := state.Apply(sh, e); err != nil {
					t.Fatal(err)
				}
			}
			if sh.Status != c.status || sh.Destination != c.dest {
				t.Fatalf("status %s destination %q, want %s %q", sh.Status, sh.Destination, c.status, c.dest)
			}
			if sh.EventCount != uint64(len(c.events)) {
				t.Fatalf("event count %d, want %d", sh.EventCount, len(c.events))
			}
		})
	}
}

func TestApplyDeduplicates(t *testing.T) {
	sh := state.New("S1")
	steps := []struct {
		e    *event.Envelope
		want state.Outcome
	}{
		{meter(0, 1, "IN", 100), state.Applied},
		{meter(1, 2, "IN", 200), state.Applied},
		{meter(1, 2, "IN", 999), state.Duplicate}, // same device sequence: a redelivery or a replay
		{meter(0, 1, "IN", 100), state.Duplicate}, // older sequence
		{ev(5, &event.Departed{Port: "3404"}), state.Applied},
		{ev(5, &event.Departed{Port: "3404"}), state.Duplicate}, // same unnumbered event ID
		{otherCarrier(meter(6, 1, "OUT", 50)), state.Applied},   // another carrier's device of the same name
		{otherCarrier(meter(6, 1, "OUT", 50)), state.Duplicate},
	}
	for i, s := range steps {
		got, err := state.Apply(sh, s.e)
		if err != nil || got != s.want {
			t.Fatalf("step %d: outcome %v (%v), want %v", i, got, err, s.want)
		}
	}
	if m := sh.Meters["IN"]; m.Cumulative != 200 || m.Readings != 2 || sh.EventCount != 4 {
		t.Fatalf("meter %+v, %d events", m, sh.EventCount)
	}
	if m := sh.Meters["OUT"]; m == nil || m.Cumulative != 50 {
		t.Fatalf("the other carrier's reading was not applied: %+v", m)
	}
	other := ev(6, &event.Arrived{Port: "3802"})
	other.Subject = "S2"
	if _, err := state.Apply(sh, other); err == nil {
		t.Fatal("an event of another shipment was applied")
	}
}

func TestQualityIsVolumeWeighted(t *testing.T) {
	sh := state.New("S1")
	q := func(n int, api float64) *event.Envelope {
		e := ev(n, &event.QualityReading{Meter: "IN", APIGravity: ptr(api)})
		e.Device, e.Sequence = "QA", uint64(n)
		return e
	}
	for _, e := range []*event.Envelope{ev(0, manifest(event.EntryTE)), meter(1, 1, "IN", 1000), q(2, 30), meter(3, 2, "IN", 4000), q(4, 40)} {
		if _, err := state.Apply(sh, e); err != nil {
			t.Fatal(err)
		}
	}
	// 1000 bbl at 30°, then 3000 more at 40°: (30·1000 + 40·3000) / 4000 = 37.5.
	if api, ok := sh.Quality.APIGravity(); !ok || api != 37.5 {
		t.Fatalf("volume-weighted API %v (%v), want 37.5", api, ok)
	}
}

// TestStoreClaimFenceAndIndexes exercises the Redis store directly: a claim
// bumps the epoch and fences the previous owner; flushes maintain the indexes.
func TestStoreClaimFenceAndIndexes(t *testing.T) {
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	a, err := store.Claim(ctx, 3, "a", 0)
	if err != nil || a.Epoch != 1 || a.Offset != -1 {
		t.Fatalf("first claim %+v %v", a, err)
	}
	sh := state.New("S1")
	for _, e := range []*event.Envelope{ev(0, manifest(event.EntryTE)), ev(1, &event.Departed{Port: "3404"})} {
		if _, err := state.Apply(sh, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Flush(ctx, &a, 10, []state.Change{{Shipment: sh}}); err != nil || a.Offset != 10 {
		t.Fatalf("first flush: %v, claim now %+v", err, a)
	}
	// The same flush again, as after a reply lost on the way back: accepted,
	// and nothing changes.
	retried := a
	retried.Offset = -1
	if err := store.Flush(ctx, &retried, 10, []state.Change{{Shipment: sh}}); err != nil {
		t.Fatalf("retried flush: %v", err)
	}
	before := state.IndexOf(sh)
	if _, err := state.Apply(sh, ev(2, &event.Arrived{Port: "3802"})); err != nil {
		t.Fatal(err)
	}
	stale := a
	stale.Offset = 7 // an owner whose memory is not what Redis holds
	if err := store.Flush(ctx, &stale, 11, nil); !errors.Is(err, state.ErrPositionLost) {
		t.Fatalf("flush from offset 7 onto offset 10: %v, want ErrPositionLost", err)
	}
	if err := store.Flush(ctx, &a, 11, []state.Change{{Shipment: sh, Before: &before}}); err != nil {
		t.Fatal(err)
	}
	if got := r.Client.SMembers(ctx, store.StatusKey(3, state.StatusArrived)).Val(); len(got) != 1 || got[0] != "S1" {
		t.Fatalf("arrived index %v", got)
	}
	if n := r.Client.SCard(ctx, store.StatusKey(3, state.StatusInTransit)).Val(); n != 0 {
		t.Fatalf("in_transit index still holds %d", n)
	}
	if sc := r.Client.ZScore(ctx, store.DeadlinesKey(3), "S1").Val(); sc != float64(t0.AddDate(0, 0, 30).Unix()) {
		t.Fatalf("deadline score %v", sc)
	}

	b, err := store.Claim(ctx, 3, "b", 0)
	if err != nil || b.Epoch != 2 || b.Offset != 11 {
		t.Fatalf("second claim %+v %v", b, err)
	}
	if err := store.Flush(ctx, &a, 99, nil); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("flush by the fenced owner: %v", err)
	}
	if off := r.Client.HGet(ctx, store.OffsetKey(3), "offset").Val(); off != "11" {
		t.Fatalf("offset after a fenced flush %s, want 11", off)
	}
	loaded, err := store.Load(ctx, 3, []event.ShipmentID{"S1", "S-NONE"})
	if err != nil || loaded["S1"] == nil || loaded["S1"].Status != state.StatusArrived || loaded["S-NONE"] != nil {
		t.Fatalf("load %v %v", loaded, err)
	}
	counts, err := store.CountByStatus(ctx, 12)
	if err != nil || counts[state.StatusArrived] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}

	// Redis loses the partition (restart without persistence): its owner's
	// next flush is refused, and claiming again starts it over.
	if err := r.Client.Del(ctx, store.OffsetKey(3)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := store.Flush(ctx, &b, 12, nil); !errors.Is(err, state.ErrPositionLost) {
		t.Fatalf("flush after the partition's keys were lost: %v, want ErrPositionLost", err)
	}
	c, err := store.Claim(ctx, 3, "b", b.Epoch)
	if err != nil || c.Epoch != b.Epoch+1 || c.Offset != -1 {
		t.Fatalf("claim after the loss %+v %v, want epoch %d (above the one held, though Redis counts from 1 again) from offset -1", c, err, b.Epoch+1)
	}
	// a, a zombie older than b, now finds a newer epoch: fenced, not lost.
	if err := store.Flush(ctx, &a, 99, nil); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("a zombie's flush after the loss and the new claim: %v, want ErrFenced", err)
	}
}

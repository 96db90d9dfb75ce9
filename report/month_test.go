package report_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/report"
)

var testCheckpoint = report.Checkpoint{Origin: "inbond.test/report", TreeSize: 42,
	Root: "6a09e667f3bcc908b2fb1366ea957d3e3adec17512775099da2f590b0667322a", Topic: "inbond.events", Ends: []int64{1, 2, 3, 4}}

func compute(t testing.TB, period string, recs []report.Record) *report.DOE {
	t.Helper()
	p, err := report.ParsePeriod(period)
	if err != nil {
		t.Fatal(err)
	}
	d, err := report.Compute(p, testCheckpoint, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every total of October's reports equals the test's own sums over the
// generated traffic, to the barrel and the Mcf.
func TestMonthTotalsMatchTraffic(t *testing.T) {
	msgs := month(t)
	tr := groundTruth(t, msgs)
	recs := archive(t, msgs)
	oct := compute(t, "2026-10", recs)
	p, _ := report.ParsePeriod("2026-10")

	// EIA-814: imports of crude by importer, port, country, HTS.
	type crudeKey struct {
		importer string
		port     event.PortCode
		country  string
		hts      string
	}
	want := map[crudeKey]float64{}
	for id, man := range tr.manifests {
		if man.Product == event.ProductCrude && man.EntryType == event.EntryIT {
			if v := tr.volume(id, p.Start, p.End); v > 0 {
				want[crudeKey{man.Importer.ID, tr.ports[id], man.CountryOfOrigin, man.HTS}] += v
			}
		}
	}
	got := map[crudeKey]int64{}
	for _, r := range oct.Crude {
		got[crudeKey{r.ImporterID, r.PortCode, r.Country, r.HTS}] += r.QuantityBbl
		if r.QuantityKbbl*1000 != float64(r.QuantityBbl) && whole(r.QuantityKbbl*1000) != r.QuantityBbl {
			t.Errorf("row %d of %s: %v kbbl is not %d bbl", r.LineNum, r.ImporterName, r.QuantityKbbl, r.QuantityBbl)
		}
	}
	if len(got) != len(want) {
		t.Errorf("EIA-814 has %d importer/port/country/HTS groups, the traffic %d: %+v vs %+v", len(got), len(want), got, want)
	}
	for k, v := range want {
		if got[k] != whole(v) {
			t.Errorf("EIA-814 %+v: %d bbl, the traffic gives %d", k, got[k], whole(v))
		}
	}
	if len(want) < 3 {
		t.Fatalf("the test month should import crude through several ports, has %v", want)
	}

	// FE-746R: gas by authorization, flow and point.
	type gasKey struct {
		auth, flow string
		point      event.PortCode
	}
	wantGas := map[gasKey]float64{}
	for id, man := range tr.manifests {
		if man.Product != event.ProductGas {
			continue
		}
		flow := report.FlowImport
		if man.EntryType != event.EntryIT {
			flow = report.FlowInTransit
		}
		wantGas[gasKey{man.Authorization, flow, tr.ports[id]}] += tr.volume(id, p.Start, p.End)
	}
	if oct.Gas.NoActivity {
		t.Fatal("October's gas report says no activity")
	}
	for _, r := range oct.Gas.Rows {
		k := gasKey{r.Authorization, r.Flow, r.Point}
		if whole(wantGas[k]) != r.VolumeMcf {
			t.Errorf("FE-746R %+v: %d Mcf, the traffic gives %d", k, r.VolumeMcf, whole(wantGas[k]))
		}
		delete(wantGas, k)
		if r.Flow == report.FlowInTransit && (r.Point != "3402" || r.ExitPoint != "3802") {
			t.Errorf("in-transit gas enters at %s and leaves at %s, want Noyes 3402 to Port Huron/St. Clair 3802", r.Point, r.ExitPoint)
		}
		if r.HeatingValue < 1000 || r.HeatingValue > 1060 {
			t.Errorf("FE-746R %+v: heating value %v Btu/scf", k, r.HeatingValue)
		}
	}
	if len(wantGas) > 0 {
		t.Errorf("the report misses gas the traffic moved: %+v", wantGas)
	}

	// The summary's product totals and the daily series, per port and day.
	var sums = map[string]float64{}
	daily := map[[3]string]float64{}
	for id, man := range tr.manifests {
		flow := report.FlowImport
		if man.EntryType != event.EntryIT {
			flow = report.FlowInTransit
		}
		sums[string(man.Product)+"/"+flow] += tr.volume(id, p.Start, p.End)
		for _, c := range tr.crossings[id] {
			if p.Contains(c.at) && c.vol > 0 {
				daily[[3]string{c.at.UTC().Format(time.DateOnly), string(tr.ports[id]), string(man.Product)}] += c.vol
			}
		}
	}
	for _, v := range oct.Summary.Volumes {
		if w := whole(sums[string(v.Product)+"/"+v.Flow]); v.Total != w {
			t.Errorf("summary %s %s: %d %s, the traffic gives %d", v.Product, v.Flow, v.Total, v.Unit, w)
		}
	}
	if len(oct.Daily) != len(daily) {
		t.Errorf("daily series has %d points, the traffic %d: %v, %v", len(oct.Daily), len(daily), oct.Daily, daily)
	}
	for _, dv := range oct.Daily {
		k := [3]string{dv.Date, string(dv.Port), string(dv.Product)}
		if w := daily[k]; whole(dv.Volume) != whole(w) {
			t.Errorf("daily %v: %v, the traffic gives %v", k, dv.Volume, w)
		}
	}
}

// The month's first and last second: a reading at 00:00:01 on the 1st is
// October's, a reading at 23:59:59 on the 31st too, and the rest of that
// batch is November's: split by crossing time, nothing lost at the seam.
func TestPeriodEdges(t *testing.T) {
	msgs := month(t)
	tr := groundTruth(t, msgs)
	recs := archive(t, msgs)
	sep, oct, nov := compute(t, "2026-09", recs), compute(t, "2026-10", recs), compute(t, "2026-11", recs)
	first := time.Date(2026, 10, 1, 0, 0, 1, 0, time.UTC)
	last := time.Date(2026, 10, 31, 23, 59, 59, 0, time.UTC)
	if len(tr.crossings["CRUDE-NECHE-FIRST"]) == 0 || !tr.crossings["CRUDE-NECHE-FIRST"][0].at.Equal(first) {
		t.Fatalf("the test traffic's first reading is not at %s: %v", first, tr.crossings["CRUDE-NECHE-FIRST"])
	}
	if len(sep.Crude) != 0 || len(sep.Metering) != 0 {
		t.Errorf("September has crude: %+v %+v", sep.Crude, sep.Metering)
	}
	day := func(d *report.DOE, date string, id event.ShipmentID) float64 {
		for _, m := range d.Metering {
			if m.Date == date && m.Shipment == id {
				return m.Volume
			}
		}
		return 0
	}
	firstVol := tr.crossings["CRUDE-NECHE-FIRST"][0].vol
	if got := day(oct, "2026-10-01", "CRUDE-NECHE-FIRST"); whole(got) != whole(tr.volume("CRUDE-NECHE-FIRST", first, first.Add(24*time.Hour))) || firstVol <= 0 {
		t.Errorf("October 1st of CRUDE-NECHE-FIRST: %v bbl, want its readings from 00:00:01 (%v bbl the first)", got, firstVol)
	}
	b := tr.crossings["CRUDE-NECHE-BOUNDARY"]
	var atLast float64
	for _, c := range b {
		if c.at.Equal(last) {
			atLast = c.vol
		}
	}
	if atLast == 0 {
		t.Fatalf("the boundary batch has no reading at %s", last)
	}
	inOct := tr.volume("CRUDE-NECHE-BOUNDARY", last.Add(-time.Hour), last.Add(time.Second))
	inNov := tr.volume("CRUDE-NECHE-BOUNDARY", last.Add(time.Second), last.Add(30*24*time.Hour))
	if inOct <= 0 || inNov <= 0 {
		t.Fatalf("the boundary batch does not straddle the month: %v in October, %v in November", inOct, inNov)
	}
	if got := day(oct, "2026-10-31", "CRUDE-NECHE-BOUNDARY"); whole(got) != whole(inOct) {
		t.Errorf("boundary batch on October 31st: %v bbl, want %v (its readings to 23:59:59)", got, inOct)
	}
	if got := day(nov, "2026-11-01", "CRUDE-NECHE-BOUNDARY"); whole(got) != whole(inNov) {
		t.Errorf("boundary batch on November 1st: %v bbl, want %v", got, inNov)
	}
	rowOf := func(d *report.DOE, importer string) int64 {
		var n int64
		for _, r := range d.Crude {
			if r.ImporterID == importer {
				n += r.QuantityBbl
			}
		}
		return n
	}
	if o, n := rowOf(oct, "34-5678901CD"), rowOf(nov, "34-5678901CD"); o != whole(inOct) || n != whole(inNov) {
		t.Errorf("EIA-814 splits the boundary batch %d + %d bbl, want %d + %d", o, n, whole(inOct), whole(inNov))
	}
	// The truck crossed at 23:59:59 on the 31st; its ticket came in
	// November, and its quantity is October's.
	truck := tr.crossings["CRUDE-TRUCK-LAST"]
	if len(truck) != 1 || !truck[0].at.Equal(last) {
		t.Fatalf("the test truck does not cross at %s: %v", last, truck)
	}
	if got := day(oct, "2026-10-31", "CRUDE-TRUCK-LAST"); got != truck[0].vol {
		t.Errorf("the truck crossing at 23:59:59: %v bbl on October 31st, want its ticket's %v bbl", got, truck[0].vol)
	}
	if got := day(nov, "2026-11-01", "CRUDE-TRUCK-LAST"); got != 0 {
		t.Errorf("the truck's volume is counted again in November: %v", got)
	}
}

// In-transit movements (T&E 62) are in-transit, never imports: the crude
// by rail is in no EIA-814 row, the Noyes gas is in-transit in the FE-746R.
func TestInTransitIsNotImport(t *testing.T) {
	recs := archive(t, month(t))
	oct := compute(t, "2026-10", recs)
	for _, r := range oct.Crude {
		if r.PortCode == "3403" {
			t.Errorf("in-transit crude in EIA-814: %+v", r)
		}
	}
	var transit, imports int
	for _, r := range oct.Gas.Rows {
		switch r.Flow {
		case report.FlowInTransit:
			transit++
			if r.Authorization != "FE 25-202-NG" || r.VolumeMcf == 0 || r.ExitVolumeMcf == 0 {
				t.Errorf("in-transit row: %+v", r)
			}
		case report.FlowImport:
			imports++
			if r.Point == "3402" {
				t.Errorf("the Noyes gas is counted as an import: %+v", r)
			}
		}
	}
	if transit != 1 || imports != 2 {
		t.Errorf("gas rows: %d in-transit, %d imports; want 1 and 2", transit, imports)
	}
}

// November has crude and no gas: the FE-746R says "no activity", for each
// authorization the archive knows.
func TestNoGasMonthIsNoActivity(t *testing.T) {
	nov := compute(t, "2026-11", archive(t, month(t)))
	if !nov.Gas.NoActivity {
		t.Fatalf("November's gas report: %+v", nov.Gas)
	}
	var auths []string
	for _, r := range nov.Gas.Rows {
		if r.Flow != report.FlowNone || r.VolumeMcf != 0 {
			t.Errorf("a no-activity report with a movement: %+v", r)
		}
		auths = append(auths, r.Authorization)
	}
	if len(auths) != 2 || auths[0] != "FE 25-101-NG" || auths[1] != "FE 25-202-NG" {
		t.Errorf("no-activity lines for %v, want both authorizations", auths)
	}
	// A month before any gas manifest: one line, no holder known.
	sep := compute(t, "2026-09", archive(t, month(t)))
	if !sep.Gas.NoActivity || len(sep.Gas.Rows) != 1 {
		t.Errorf("September's gas report: %+v", sep.Gas)
	}
	if len(nov.Crude) == 0 {
		t.Error("November has no crude")
	}
}

// Computing a closed period twice, from the archive in another partition
// order, gives byte-identical files.
func TestRerunIsByteIdentical(t *testing.T) {
	recs := archive(t, month(t))
	a := compute(t, "2026-10", recs)
	rev := make([]report.Record, 0, len(recs))
	for p := partitions - 1; p >= 0; p-- {
		for _, r := range recs {
			if r.Partition == p {
				rev = append(rev, r)
			}
		}
	}
	b := compute(t, "2026-10", rev)
	for _, f := range report.Forms {
		for _, enc := range []func(*report.DOE, report.Form) ([]byte, error){(*report.DOE).CSV, (*report.DOE).JSON} {
			x, err := enc(a, f)
			if err != nil {
				t.Fatal(err)
			}
			y, err := enc(b, f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x, y) {
				t.Errorf("%s differs between runs", f)
			}
		}
	}
}

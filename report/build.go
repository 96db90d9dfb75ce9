package report

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// Checkpoint is the ledger checkpoint a report was computed at: the
// transparency log's tree (origin, size, RFC 6962 root) and what of the
// archive its entries cover, each partition's offsets [0, end). Anyone with
// the log and the archive re-derives the report from it (Verify).
type Checkpoint struct {
	Origin   string  `json:"origin"`
	TreeSize uint64  `json:"tree_size"`
	Root     string  `json:"root"`  // lowercase hex
	Topic    string  `json:"topic"` // the archive
	Ends     []int64 `json:"ends"`  // per partition, the first offset not covered
}

// Form names a report file's layout.
type Form string

// The forms inbond writes. Each is a file per period, named
// <form>-YYYY-MM.<ext> (FileName).
const (
	FormEIA814   Form = "eia-814"          // crude oil imports, EIA-814 rows
	FormFE746R   Form = "fe-746r"          // natural gas imports, exports, in-transit (DOE/FECM)
	FormSummary  Form = "inbond-summary"   // in-bond movements and alerts
	FormMetering Form = "metering"         // per shipment and UTC day, what the meters measured
	FormDOE      Form = "doe"              // the HTML (and PDF, PNG) rendering of all of them
	unitKbbl          = "thousand_barrels" // EIA-814's quantity unit
)

// Forms lists the forms written as CSV and JSON.
var Forms = []Form{FormEIA814, FormFE746R, FormSummary, FormMetering}

// FileName is the file a form of period p is written to.
func FileName(f Form, p Period, ext string) string { return string(f) + "-" + p.String() + "." + ext }

// DOE is every report of one period, computed at one checkpoint. Its
// fields are rounded as the files print them, so two computations compare
// equal exactly when their files are byte-identical.
type DOE struct {
	Period     string     `json:"period"` // YYYY-MM
	Checkpoint Checkpoint `json:"checkpoint"`
	Crude      []CrudeRow `json:"crude"`
	Gas        GasReport  `json:"gas"`
	Summary    Summary    `json:"summary"`
	Metering   []Metered  `json:"metering"`
	Daily      []Daily    `json:"daily"`

	period Period
}

// CrudeRow is one EIA-814 line: the crude one importer imported through one
// port from one country under one HTS line for one processing facility and
// transporter in the period. Column names follow EIA's company-level
// imports data (RPT_PERIOD, R_S_NAME, LINE_NUM, PROD_CODE, ...).
type CrudeRow struct {
	RptPeriod    string         `json:"rpt_period"` // YYMM
	ImporterName string         `json:"importer_name"`
	ImporterID   string         `json:"importer_id"`
	LineNum      int            `json:"line_num"` // per importer, from 1
	ProdCode     string         `json:"prod_code"`
	ProdName     string         `json:"prod_name"`
	HTS          string         `json:"hts"`
	PortCode     event.PortCode `json:"port_code"`
	PortCity     string         `json:"port_city"`
	PortState    string         `json:"port_state"`
	PortPADD     int            `json:"port_padd"`
	Country      string         `json:"country_code"`
	CountryName  string         `json:"country_name"`
	QuantityKbbl float64        `json:"quantity_kbbl"` // thousand barrels, 3 decimals: to the barrel
	QuantityBbl  int64          `json:"quantity_bbl"`
	SulfurPct    float64        `json:"sulfur_pct"`  // volume-weighted, 2 decimals
	APIGravity   float64        `json:"api_gravity"` // volume-weighted, 1 decimal
	// Processing company, facility and state, "" when not declared.
	ProcessingCompany  string          `json:"processing_company"`
	ProcessingFacility string          `json:"processing_facility"`
	ProcessingState    string          `json:"processing_state"`
	ProcessingPADD     int             `json:"processing_padd"`
	Transporter        event.CarrierID `json:"transporter"`
	Basis              string          `json:"basis"` // entry_meter, delivery_ticket, declared, or a +-joined mix
	Shipments          int             `json:"shipments"`
}

// GasReport is the DOE/FECM monthly natural gas report (FE-746R style):
// imports, exports and in-transit volumes by authorization, point of entry
// or exit and country. NoActivity is true, with Statement saying so, when
// the period saw none: DOE requires the report even then.
type GasReport struct {
	NoActivity bool     `json:"no_activity"`
	Statement  string   `json:"statement"`
	Rows       []GasRow `json:"rows"`
}

// The flows of a GasRow.
const (
	FlowImport    = "import"
	FlowExport    = "export"
	FlowInTransit = "in_transit"
	FlowNone      = "no_activity"
)

// GasRow is one authorization's gas of one flow through one point from one
// country by one transporter. For in-transit gas, Point is where it entered
// and ExitPoint where it left; VolumeMcf is what the entry meter measured,
// ExitVolumeMcf what the exit meter measured in the period.
type GasRow struct {
	Period        string          `json:"period"` // YYYY-MM
	Authorization string          `json:"authorization"`
	ImporterName  string          `json:"importer_name"`
	ImporterID    string          `json:"importer_id"`
	Flow          string          `json:"flow"`
	Point         event.PortCode  `json:"point"`
	PointName     string          `json:"point_name"`
	ExitPoint     event.PortCode  `json:"exit_point"`
	ExitPointName string          `json:"exit_point_name"`
	Country       string          `json:"country_code"`
	VolumeMcf     int64           `json:"volume_mcf"`
	ExitVolumeMcf int64           `json:"exit_volume_mcf"`
	HeatingValue  float64         `json:"heating_value_btu_scf"` // volume-weighted, 1 decimal
	Transporter   event.CarrierID `json:"transporter"`
	HTS           string          `json:"hts"`
	Shipments     int             `json:"shipments"`
}

// Summary is the in-bond view of the period.
type Summary struct {
	Period string `json:"period"`
	// Opened counts manifests created in the period; Closed the movements
	// exported or concluded (IT delivered) in it; Overdue those whose
	// deadline passed in it before they arrived.
	Opened  int `json:"opened"`
	Closed  int `json:"closed"`
	Overdue int `json:"overdue"`
	// ByStatus counts every declared movement by its status at the period's
	// end, as its milestones observed before then give it.
	ByStatus []Count `json:"by_status"`
	// Imports and InTransit count the period's crossing volumes by product
	// (bbl or Mcf, whole units).
	Volumes []Volume `json:"volumes"`
	// Alerts counts the alerts opened in the period, by rule. They come
	// from the processor's alert records, not from the archive: Verify
	// does not re-derive them (AlertsSource says so in every file).
	Alerts       []Count `json:"alerts"`
	AlertsSource string  `json:"alerts_source"`
}

// Count is a named count.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Volume is a total of one product and flow, in its unit.
type Volume struct {
	Product event.Product    `json:"product"`
	Flow    string           `json:"flow"` // import or in_transit
	Unit    event.VolumeUnit `json:"unit"`
	Total   int64            `json:"total"`
}

// Metered is one shipment's volume on one UTC day of the period: the
// accounting every other total is a sum of.
type Metered struct {
	Date        string           `json:"date"` // YYYY-MM-DD, UTC
	Shipment    event.ShipmentID `json:"shipment"`
	InBond      string           `json:"inbond_number"`
	EntryType   event.EntryType  `json:"entry_type"`
	Product     event.Product    `json:"product"`
	Flow        string           `json:"flow"` // import or in_transit
	PortOfEntry event.PortCode   `json:"port_of_entry"`
	Importer    string           `json:"importer_id"`
	Country     string           `json:"country_code"`
	HTS         string           `json:"hts"`
	Transporter event.CarrierID  `json:"transporter"`
	Basis       Basis            `json:"basis"`
	Unit        event.VolumeUnit `json:"unit"`
	Volume      float64          `json:"volume"` // 3 decimals
	Readings    int              `json:"readings"`
	// Quality, volume-weighted over the day: API gravity and sulfur for
	// crude, heating value for gas (0 for the other product).
	APIGravity   float64 `json:"api_gravity"`
	SulfurPct    float64 `json:"sulfur_pct"`
	HeatingValue float64 `json:"heating_value"`
}

// Daily is the volume of one product that crossed at one port of entry on
// one UTC day, imports and in-transit together: the chart's series.
type Daily struct {
	Date    string           `json:"date"`
	Port    event.PortCode   `json:"port"`
	Product event.Product    `json:"product"`
	Unit    event.VolumeUnit `json:"unit"`
	Volume  float64          `json:"volume"` // 3 decimals
}

// crudeProdCode and crudeProdName are EIA's product code and name for crude oil.
const (
	crudeProdCode = "050"
	crudeProdName = "Crude Oil"
)

// weighted accumulates volume-weighted quality.
type weighted struct {
	vol, api, sulfur, hv float64
	n                    int
	bases                map[Basis]bool
	shipments            map[event.ShipmentID]bool
}

func (w *weighted) add(f Flow, b Basis, id event.ShipmentID) {
	w.vol += f.Volume
	w.api += f.APIGravity * f.Volume
	w.sulfur += f.SulfurPct * f.Volume
	w.hv += f.HeatingValue * f.Volume
	w.n++
	if w.bases == nil {
		w.bases, w.shipments = map[Basis]bool{}, map[event.ShipmentID]bool{}
	}
	w.bases[b], w.shipments[id] = true, true
}

func (w *weighted) mean(sum float64) float64 {
	if w.vol == 0 {
		return 0
	}
	return sum / w.vol
}

func (w *weighted) basis() string {
	var bs []string
	for b := range w.bases {
		bs = append(bs, string(b))
	}
	slices.Sort(bs)
	return strings.Join(bs, "+")
}

// round rounds v to places decimals.
func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	r := math.Round(v*p) / p
	if r == 0 {
		return 0 // no -0 in a file
	}
	return r
}

// Build computes every report of period p from the movements (Movements of
// the archive up to cp) and the alerts the processor raised. It is a pure
// function of its arguments.
func Build(p Period, cp Checkpoint, movements []*Movement, raised []alerts.Alert) *DOE {
	d := &DOE{Period: p.String(), Checkpoint: cp, period: p, Crude: []CrudeRow{}, Metering: []Metered{}, Daily: []Daily{}}
	d.buildCrude(movements)
	d.buildGas(movements)
	d.buildSummary(movements, raised)
	d.buildMetering(movements)
	return d
}

func flowOf(m *Movement) string {
	if m.InTransit() {
		return FlowInTransit
	}
	return FlowImport
}

// inPeriod yields the flows of fs in the period.
func (d *DOE) inPeriod(fs []Flow) []Flow {
	var out []Flow
	for _, f := range fs {
		if d.period.Contains(f.At) {
			out = append(out, f)
		}
	}
	return out
}

func (d *DOE) buildCrude(movements []*Movement) {
	type key struct {
		importerID, importer, hts, country string
		port                               event.PortCode
		proc                               event.Facility
		transporter                        event.CarrierID
	}
	acc := map[key]*weighted{}
	for _, m := range movements {
		if m.Product() != event.ProductCrude || m.InTransit() {
			continue // EIA-814 reports imports; crude in transit is in the summary and metering
		}
		man := m.Manifest
		k := key{man.Importer.ID, man.Importer.Name, man.HTS, man.CountryOfOrigin, m.PortOfEntry, man.Processing, man.Carrier.SCAC}
		for _, f := range d.inPeriod(m.Flows) {
			if acc[k] == nil {
				acc[k] = &weighted{}
			}
			acc[k].add(f, m.Basis, m.Shipment)
		}
	}
	keys := make([]key, 0, len(acc))
	for k := range acc {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.importer, b.importer), cmp.Compare(a.importerID, b.importerID), cmp.Compare(a.port, b.port),
			cmp.Compare(a.country, b.country), cmp.Compare(a.hts, b.hts), cmp.Compare(a.proc.Company, b.proc.Company),
			cmp.Compare(a.proc.Name, b.proc.Name), cmp.Compare(a.proc.State, b.proc.State), cmp.Compare(a.transporter, b.transporter))
	})
	line := 0
	for i, k := range keys {
		if i == 0 || keys[i-1].importerID != k.importerID || keys[i-1].importer != k.importer {
			line = 0
		}
		line++
		w := acc[k]
		port := PortInfo(k.port)
		bbl := int64(math.Round(w.vol))
		d.Crude = append(d.Crude, CrudeRow{
			RptPeriod: d.period.YYMM(), ImporterName: k.importer, ImporterID: k.importerID, LineNum: line,
			ProdCode: crudeProdCode, ProdName: crudeProdName, HTS: k.hts,
			PortCode: k.port, PortCity: port.City, PortState: port.State, PortPADD: port.PADD,
			Country: k.country, CountryName: CountryName(k.country),
			QuantityKbbl: float64(bbl) / 1000, QuantityBbl: bbl,
			SulfurPct: round(w.mean(w.sulfur), 2), APIGravity: round(w.mean(w.api), 1),
			ProcessingCompany: k.proc.Company, ProcessingFacility: k.proc.Name, ProcessingState: k.proc.State,
			ProcessingPADD: paddByState[k.proc.State], Transporter: k.transporter, Basis: w.basis(), Shipments: len(w.shipments),
		})
	}
}

// notDeclared stands for a field the manifest did not declare.
const notDeclared = "NOT DECLARED"

func (d *DOE) buildGas(movements []*Movement) {
	type key struct {
		auth, importer, importerID, flow, country, hts string
		point, exit                                    event.PortCode
		transporter                                    event.CarrierID
	}
	type agg struct {
		in, out weighted
	}
	acc := map[key]*agg{}
	known := map[[3]string]bool{} // authorizations seen before the period ended: (auth, importer, id)
	for _, m := range movements {
		if m.Product() != event.ProductGas {
			continue
		}
		man := m.Manifest
		auth := cmp.Or(man.Authorization, notDeclared)
		if man.CreatedAt.Before(d.period.End) {
			known[[3]string{auth, man.Importer.Name, man.Importer.ID}] = true
		}
		flow := flowOf(m)
		k := key{auth, man.Importer.Name, man.Importer.ID, flow, man.CountryOfOrigin, man.HTS, m.PortOfEntry, "", man.Carrier.SCAC}
		if flow == FlowInTransit {
			k.exit = m.ExitPort
		}
		in, out := d.inPeriod(m.Flows), d.inPeriod(m.ExitFlows)
		if len(in) == 0 && (flow != FlowInTransit || len(out) == 0) {
			continue
		}
		a := acc[k]
		if a == nil {
			a = &agg{}
			acc[k] = a
		}
		for _, f := range in {
			a.in.add(f, m.Basis, m.Shipment)
		}
		if flow == FlowInTransit {
			for _, f := range out {
				a.out.add(f, m.Basis, m.Shipment)
			}
		}
	}
	keys := make([]key, 0, len(acc))
	for k := range acc {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.auth, b.auth), cmp.Compare(a.importer, b.importer), cmp.Compare(a.importerID, b.importerID),
			cmp.Compare(a.flow, b.flow), cmp.Compare(a.point, b.point), cmp.Compare(a.exit, b.exit), cmp.Compare(a.country, b.country),
			cmp.Compare(a.transporter, b.transporter), cmp.Compare(a.hts, b.hts))
	})
	active := map[[3]string]bool{}
	d.Gas.Rows = []GasRow{}
	for _, k := range keys {
		a := acc[k]
		shipments := len(a.in.shipments)
		for id := range a.out.shipments {
			if !a.in.shipments[id] {
				shipments++
			}
		}
		row := GasRow{Period: d.Period, Authorization: k.auth, ImporterName: k.importer, ImporterID: k.importerID, Flow: k.flow,
			Point: k.point, PointName: portName(k.point), ExitPoint: k.exit, ExitPointName: portName(k.exit), Country: k.country,
			VolumeMcf: int64(math.Round(a.in.vol)), ExitVolumeMcf: int64(math.Round(a.out.vol)),
			HeatingValue: round(a.in.mean(a.in.hv), 1), Transporter: k.transporter, HTS: k.hts, Shipments: shipments}
		d.Gas.Rows = append(d.Gas.Rows, row)
		active[[3]string{k.auth, k.importer, k.importerID}] = true
	}
	// Every authorization the archive knows with nothing this period gets
	// its "no activity" line: the report is due from each holder.
	var idle [][3]string
	for k := range known {
		if !active[k] {
			idle = append(idle, k)
		}
	}
	slices.SortFunc(idle, func(a, b [3]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	for _, k := range idle {
		d.Gas.Rows = append(d.Gas.Rows, GasRow{Period: d.Period, Authorization: k[0], ImporterName: k[1], ImporterID: k[2], Flow: FlowNone})
	}
	if len(active) == 0 {
		if len(d.Gas.Rows) == 0 { // no holder known either: one line says so
			d.Gas.Rows = append(d.Gas.Rows, GasRow{Period: d.Period, Authorization: notDeclared, Flow: FlowNone})
		}
		d.Gas.NoActivity = true
		d.Gas.Statement = "No activity: no natural gas was imported, exported or moved in transit in " + d.Period +
			" under any authorization (computed from the metered records of the archive at the checkpoint)."
	} else {
		d.Gas.Statement = "Natural gas imports, exports and in-transit volumes for " + d.Period +
			", in Mcf at 14.73 psia and 60 °F, from the metered records of the archive at the checkpoint."
	}
}

func portName(c event.PortCode) string {
	if c == "" {
		return ""
	}
	p := PortInfo(c)
	if p.City == "" {
		return string(c)
	}
	return p.City + ", " + p.State
}

// statusAt is the movement's status at t, from the milestones observed
// before t (state's order of statuses).
func statusAt(m *Movement, t time.Time) state.Status {
	before := func(x time.Time) bool { return !x.IsZero() && x.Before(t) }
	switch {
	case before(m.ExportedAt):
		return state.StatusExported
	case before(m.DeliveredAt) && m.Manifest.EntryType == event.EntryIT:
		return state.StatusConcluded
	case before(m.ArrivedAt):
		return state.StatusArrived
	case before(m.DepartedAt) || before(m.CrossedAt):
		return state.StatusInTransit
	}
	return state.StatusDeclared
}

func closedAt(m *Movement) time.Time {
	if !m.ExportedAt.IsZero() {
		return m.ExportedAt
	}
	if m.Manifest.EntryType == event.EntryIT {
		return m.DeliveredAt
	}
	return time.Time{}
}

// AlertsSource is the Summary's statement of where its alert counts come from.
const AlertsSource = "the processor's alert records (derived from the archive by the deviation rules; not re-derived by report verify)"

func (d *DOE) buildSummary(movements []*Movement, raised []alerts.Alert) {
	s := Summary{Period: d.Period, AlertsSource: AlertsSource, ByStatus: []Count{}, Volumes: []Volume{}, Alerts: []Count{}}
	byStatus := map[state.Status]int{}
	vols := map[[2]string]float64{}
	for _, m := range movements {
		if m.Manifest == nil {
			continue
		}
		if d.period.Contains(m.CreatedAt) {
			s.Opened++
		}
		if c := closedAt(m); !c.IsZero() && d.period.Contains(c) {
			s.Closed++
		}
		if d.period.Contains(m.Deadline) && (m.ArrivedAt.IsZero() || m.ArrivedAt.After(m.Deadline)) {
			s.Overdue++
		}
		if m.CreatedAt.Before(d.period.End) {
			byStatus[statusAt(m, d.period.End)]++
		}
		for _, f := range d.inPeriod(m.Flows) {
			vols[[2]string{string(m.Product()), flowOf(m)}] += f.Volume
		}
	}
	for _, st := range state.Statuses {
		if n := byStatus[st]; n > 0 {
			s.ByStatus = append(s.ByStatus, Count{string(st), n})
		}
	}
	for _, prod := range []event.Product{event.ProductCrude, event.ProductGas} {
		unit := event.VolumeBarrels
		if prod == event.ProductGas {
			unit = event.VolumeMcf
		}
		for _, flow := range []string{FlowImport, FlowInTransit} {
			s.Volumes = append(s.Volumes, Volume{Product: prod, Flow: flow, Unit: unit, Total: int64(math.Round(vols[[2]string{string(prod), flow}]))})
		}
	}
	byRule := map[alerts.Rule]int{}
	for _, a := range raised {
		if d.period.Contains(a.OpenedAt) {
			byRule[a.Rule]++
		}
	}
	rules := make([]string, 0, len(byRule))
	for r := range byRule {
		rules = append(rules, string(r))
	}
	slices.Sort(rules)
	for _, r := range rules {
		s.Alerts = append(s.Alerts, Count{r, byRule[alerts.Rule(r)]})
	}
	d.Summary = s
}

func (d *DOE) buildMetering(movements []*Movement) {
	daily := map[[3]string]float64{}
	for _, m := range movements {
		if m.Manifest == nil {
			continue
		}
		man := m.Manifest
		byDay := map[string]*weighted{}
		for _, f := range d.inPeriod(m.Flows) {
			day := f.At.UTC().Format(time.DateOnly)
			if byDay[day] == nil {
				byDay[day] = &weighted{}
			}
			byDay[day].add(f, m.Basis, m.Shipment)
			daily[[3]string{day, string(m.PortOfEntry), string(man.Product)}] += f.Volume
		}
		days := make([]string, 0, len(byDay))
		for day := range byDay {
			days = append(days, day)
		}
		slices.Sort(days)
		for _, day := range days {
			w := byDay[day]
			row := Metered{Date: day, Shipment: m.Shipment, InBond: man.InBondNumber, EntryType: man.EntryType, Product: man.Product,
				Flow: flowOf(m), PortOfEntry: m.PortOfEntry, Importer: man.Importer.ID, Country: man.CountryOfOrigin, HTS: man.HTS,
				Transporter: man.Carrier.SCAC, Basis: m.Basis, Unit: man.Unit, Volume: round(w.vol, 3), Readings: w.n}
			if man.Product == event.ProductGas {
				row.HeatingValue = round(w.mean(w.hv), 1)
			} else {
				row.APIGravity, row.SulfurPct = round(w.mean(w.api), 1), round(w.mean(w.sulfur), 2)
			}
			d.Metering = append(d.Metering, row)
		}
	}
	slices.SortFunc(d.Metering, func(a, b Metered) int {
		return cmp.Or(cmp.Compare(a.Date, b.Date), cmp.Compare(a.Shipment, b.Shipment))
	})
	keys := make([][3]string, 0, len(daily))
	for k := range daily {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	for _, k := range keys {
		unit := event.VolumeBarrels
		if event.Product(k[2]) == event.ProductGas {
			unit = event.VolumeMcf
		}
		d.Daily = append(d.Daily, Daily{Date: k[0], Port: event.PortCode(k[1]), Product: event.Product(k[2]), Unit: unit, Volume: round(daily[k], 3)})
	}
}

// Compute is Build over the archive's records: the reports of period p as
// the records up to checkpoint cp give them.
func Compute(p Period, cp Checkpoint, records []Record, raised []alerts.Alert) (*DOE, error) {
	ms, err := Movements(records)
	if err != nil {
		return nil, err
	}
	return Build(p, cp, ms, raised), nil
}

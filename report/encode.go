package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
)

// SchemaVersion names the layout of the JSON files; a change that breaks a
// reader gets a new one.
const SchemaVersion = "inbond.report.v1"

// envelope is the JSON file around one form: what it is, for which period,
// computed at which checkpoint.
type envelope struct {
	Schema     string     `json:"schema"`
	Form       Form       `json:"form"`
	Period     string     `json:"period"`
	Checkpoint Checkpoint `json:"checkpoint"`
	Unit       string     `json:"unit,omitempty"`
	NoActivity *bool      `json:"no_activity,omitempty"`
	Statement  string     `json:"statement,omitempty"`
	Rows       any        `json:"rows,omitempty"`
	Summary    *Summary   `json:"summary,omitempty"`
	Daily      []Daily    `json:"daily,omitempty"`
}

// JSON encodes form f of d (schema in SCHEMA.md), indented, with a final
// newline.
func (d *DOE) JSON(f Form) ([]byte, error) {
	e := envelope{Schema: SchemaVersion, Form: f, Period: d.Period, Checkpoint: d.Checkpoint}
	switch f {
	case FormEIA814:
		e.Unit, e.Rows = unitKbbl, d.Crude
	case FormFE746R:
		na := d.Gas.NoActivity
		e.Unit, e.NoActivity, e.Statement, e.Rows = "mcf", &na, d.Gas.Statement, d.Gas.Rows
	case FormSummary:
		e.Summary = &d.Summary
	case FormMetering:
		e.Rows, e.Daily = d.Metering, d.Daily
	default:
		return nil, fmt.Errorf("report: no JSON layout for form %q", f)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// provenanceHeader ends every CSV header: each row names the checkpoint it
// was computed at, so a row cut out of its file still says where it came from.
var provenanceHeader = []string{"log_origin", "tree_size", "root"}

// CSV encodes form f of d: a header line, then one line per row (RFC 4180).
func (d *DOE) CSV(f Form) ([]byte, error) {
	var header []string
	var rows [][]string
	ff := func(v float64, places int) string { return strconv.FormatFloat(v, 'f', places, 64) }
	it := strconv.Itoa
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch f {
	case FormEIA814:
		header = []string{"rpt_period", "importer_name", "importer_id", "line_num", "prod_code", "prod_name", "hts", "port_code",
			"port_city", "port_state", "port_padd", "country_code", "country_name", "quantity_kbbl", "quantity_bbl", "sulfur_pct",
			"api_gravity", "processing_company", "processing_facility", "processing_state", "processing_padd", "transporter", "basis", "shipments"}
		for _, r := range d.Crude {
			rows = append(rows, []string{r.RptPeriod, r.ImporterName, r.ImporterID, it(r.LineNum), r.ProdCode, r.ProdName, r.HTS, string(r.PortCode),
				r.PortCity, r.PortState, it(r.PortPADD), r.Country, r.CountryName, ff(r.QuantityKbbl, 3), i64(r.QuantityBbl), ff(r.SulfurPct, 2),
				ff(r.APIGravity, 1), r.ProcessingCompany, r.ProcessingFacility, r.ProcessingState, it(r.ProcessingPADD), string(r.Transporter), r.Basis, it(r.Shipments)})
		}
	case FormFE746R:
		header = []string{"period", "authorization", "importer_name", "importer_id", "flow", "point", "point_name", "exit_point", "exit_point_name",
			"country_code", "volume_mcf", "exit_volume_mcf", "heating_value_btu_scf", "transporter", "hts", "shipments"}
		for _, r := range d.Gas.Rows {
			rows = append(rows, []string{r.Period, r.Authorization, r.ImporterName, r.ImporterID, r.Flow, string(r.Point), r.PointName, string(r.ExitPoint),
				r.ExitPointName, r.Country, i64(r.VolumeMcf), i64(r.ExitVolumeMcf), ff(r.HeatingValue, 1), string(r.Transporter), r.HTS, it(r.Shipments)})
		}
	case FormSummary:
		header = []string{"period", "section", "name", "value"}
		s := d.Summary
		add := func(section, name string, v int64) {
			rows = append(rows, []string{s.Period, section, name, i64(v)})
		}
		add("movements", "opened", int64(s.Opened))
		add("movements", "closed", int64(s.Closed))
		add("movements", "overdue", int64(s.Overdue))
		for _, c := range s.ByStatus {
			add("status_at_period_end", c.Name, int64(c.Count))
		}
		for _, v := range s.Volumes {
			add("volume_"+string(v.Unit), string(v.Product)+"_"+v.Flow, v.Total)
		}
		for _, c := range s.Alerts {
			add("alerts_opened", c.Name, int64(c.Count))
		}
	case FormMetering:
		header = []string{"date", "shipment", "inbond_number", "entry_type", "product", "flow", "port_of_entry", "importer_id", "country_code",
			"hts", "transporter", "basis", "unit", "volume", "readings", "api_gravity", "sulfur_pct", "heating_value"}
		for _, r := range d.Metering {
			rows = append(rows, []string{r.Date, string(r.Shipment), r.InBond, string(r.EntryType), string(r.Product), r.Flow, string(r.PortOfEntry),
				r.Importer, r.Country, r.HTS, string(r.Transporter), string(r.Basis), string(r.Unit), ff(r.Volume, 3), it(r.Readings),
				ff(r.APIGravity, 1), ff(r.SulfurPct, 2), ff(r.HeatingValue, 1)})
		}
	default:
		return nil, fmt.Errorf("report: no CSV layout for form %q", f)
	}
	prov := []string{d.Checkpoint.Origin, strconv.FormatUint(d.Checkpoint.TreeSize, 10), d.Checkpoint.Root}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(append(header, provenanceHeader...)); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		// A form with no row still names its checkpoint: a line of blanks
		// but for the provenance columns.
		rows = append(rows, make([]string, len(header)))
	}
	for _, r := range rows {
		if err := w.Write(append(r, prov...)); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

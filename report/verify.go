package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// fileName is <form>-YYYY-MM.<ext>.
var fileName = regexp.MustCompile(`^(eia-814|fe-746r|inbond-summary|metering|doe)-([0-9]{4}-[0-9]{2})\.(csv|json|html)$`)

// Identify reads a report file's form, period and format from its name.
func Identify(name string) (Form, Period, string, error) {
	m := fileName.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return "", Period{}, "", fmt.Errorf("report: %s is not a report file's name (<form>-YYYY-MM.csv|json|html, form one of eia-814, fe-746r, inbond-summary, metering, doe)", filepath.Base(name))
	}
	p, err := ParsePeriod(m[2])
	return Form(m[1]), p, m[3], err
}

// Encode writes form f of d in format ext (csv, json, or html for FormDOE).
func (d *DOE) Encode(f Form, ext string) ([]byte, error) {
	switch {
	case f == FormDOE && ext == "html":
		return d.HTML()
	case f != FormDOE && ext == "csv":
		return d.CSV(f)
	case f != FormDOE && ext == "json":
		return d.JSON(f)
	}
	return nil, fmt.Errorf("report: form %s has no %s layout", f, ext)
}

// Provenance reads the checkpoint a report file names: the JSON's
// checkpoint, the CSV's provenance columns, the HTML's inbond-checkpoint
// meta tag.
func Provenance(ext string, content []byte) (Checkpoint, error) {
	var cp Checkpoint
	switch ext {
	case "json":
		var e struct {
			Checkpoint *Checkpoint `json:"checkpoint"`
		}
		if err := json.Unmarshal(content, &e); err != nil || e.Checkpoint == nil {
			return cp, fmt.Errorf("report: the JSON names no checkpoint: %v", err)
		}
		return *e.Checkpoint, nil
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
		if err != nil || len(rows) < 2 || len(rows[0]) < 3 {
			return cp, fmt.Errorf("report: the CSV has no row naming its checkpoint: %v", err)
		}
		h, r := rows[0], rows[1]
		n := len(h)
		if h[n-3] != provenanceHeader[0] || h[n-2] != provenanceHeader[1] || h[n-1] != provenanceHeader[2] || len(r) != n {
			return cp, fmt.Errorf("report: the CSV's last columns are not %s", strings.Join(provenanceHeader, ","))
		}
		size, err := strconv.ParseUint(r[n-2], 10, 64)
		if err != nil {
			return cp, fmt.Errorf("report: the CSV's tree_size %q: %w", r[n-2], err)
		}
		return Checkpoint{Origin: r[n-3], TreeSize: size, Root: r[n-1]}, nil
	case "html":
		m := regexp.MustCompile(`<meta name="inbond-checkpoint" content="([^" ]*) ([0-9]+) ([0-9a-f]+)">`).FindSubmatch(content)
		if m == nil {
			return cp, fmt.Errorf("report: the HTML has no inbond-checkpoint meta tag")
		}
		size, _ := strconv.ParseUint(string(m[2]), 10, 64)
		return Checkpoint{Origin: string(m[1]), TreeSize: size, Root: string(m[3])}, nil
	}
	return cp, fmt.Errorf("report: no provenance in a .%s file", ext)
}

// Verify re-derives a report file (named name, holding content) from the
// archive up to the checkpoint it names and checks it byte for byte: the
// log's tree of that size must have the named root, the archive must be
// what the log's checkpoints committed to, and every total recomputed
// must be the one printed. It returns what it checked, or an error saying
// what differs (the first differing line, file against archive).
func Verify(ctx context.Context, src Source, name string, content []byte) (string, error) {
	form, period, ext, err := Identify(name)
	if err != nil {
		return "", err
	}
	named, err := Provenance(ext, content)
	if err != nil {
		return "", err
	}
	if named.TreeSize == 0 {
		return "", fmt.Errorf("report: %s names the empty tree", name)
	}
	snap, err := Open(ctx, src, named.TreeSize)
	if err != nil {
		return "", err
	}
	if snap.Checkpoint.Origin != named.Origin {
		return "", fmt.Errorf("report: %s was computed on the log %q, this is %q", name, named.Origin, snap.Checkpoint.Origin)
	}
	if snap.Checkpoint.Root != named.Root {
		return "", fmt.Errorf("report: the log's tree of size %d has root %s, %s names %s: not this log's checkpoint", named.TreeSize, snap.Checkpoint.Root, name, named.Root)
	}
	if form == FormDOE || form == FormSummary {
		// The alert counts are the processor's; the file's own stand in
		// for them so that the check covers every total of the archive.
		snap.Alerts = nil
	}
	d, err := ComputeAt(period, snap)
	if err != nil {
		return "", err
	}
	if form == FormDOE || form == FormSummary {
		if err := d.adoptAlerts(ext, content); err != nil {
			return "", err
		}
	}
	want, err := d.Encode(form, ext)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(want, content) {
		return "", fmt.Errorf("report: %s does not match the archive at tree size %d: %s", name, named.TreeSize, firstDiff(content, want))
	}
	return fmt.Sprintf("OK %s: every total re-derived from %d archived records of %s up to ledger checkpoint %s (tree size %d, root %s), checked against %d partition checkpoints",
		name, len(snap.Records), snap.Checkpoint.Topic, named.Origin, named.TreeSize, named.Root, len(snap.Entries)), nil
}

// adoptAlerts copies the alert counts of a summary file (JSON, CSV) or page
// into d's summary: Verify does not re-derive them (see Summary).
func (d *DOE) adoptAlerts(ext string, content []byte) error {
	switch ext {
	case "json":
		var e struct {
			Summary *Summary `json:"summary"`
		}
		if err := json.Unmarshal(content, &e); err != nil || e.Summary == nil {
			return fmt.Errorf("report: the summary JSON has no summary: %v", err)
		}
		d.Summary.Alerts = e.Summary.Alerts
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
		if err != nil {
			return err
		}
		d.Summary.Alerts = []Count{}
		for _, r := range rows[1:] {
			if len(r) >= 4 && r[1] == "alerts_opened" {
				n, _ := strconv.Atoi(r[3])
				d.Summary.Alerts = append(d.Summary.Alerts, Count{r[2], n})
			}
		}
	case "html":
		d.Summary.Alerts = []Count{}
		re := regexp.MustCompile(`<tr><td>([a-z_]+)</td><td class="num">([0-9]+)</td></tr>`)
		i := bytes.Index(content, []byte("Alerts opened in"))
		if i < 0 {
			return nil
		}
		j := bytes.Index(content[i:], []byte("</section>"))
		for _, m := range re.FindAllSubmatch(content[i:i+max(j, 0)], -1) {
			n, _ := strconv.Atoi(string(m[2]))
			d.Summary.Alerts = append(d.Summary.Alerts, Count{string(m[1]), n})
		}
	}
	return nil
}

// firstDiff names the first line where the file and the re-derivation differ.
func firstDiff(file, derived []byte) string {
	fl, dl := strings.Split(string(file), "\n"), strings.Split(string(derived), "\n")
	for i := range max(len(fl), len(dl)) {
		var f, d string
		if i < len(fl) {
			f = fl[i]
		}
		if i < len(dl) {
			d = dl[i]
		}
		if f != d {
			return fmt.Sprintf("line %d reads\n  %s\nthe archive gives\n  %s", i+1, strings.TrimSpace(f), strings.TrimSpace(d))
		}
	}
	return "the files differ"
}

package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
)

//go:embed templates/doe.html.tmpl
var doeTemplate string

var doePage = template.Must(template.New("doe").Funcs(template.FuncMap{
	"f": func(v float64, places int) string { return strconv.FormatFloat(v, 'f', places, 64) },
	"n": func(v int64) string { return thousands(v) },
}).Parse(doeTemplate))

// thousands writes v with thin separators people read (1,234,567).
func thousands(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := v < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// chart is an inline SVG bar chart of one product's daily volume, bars
// stacked by port of entry.
type chart struct {
	Title, Unit   string
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Legend        []legend
	Max           string
}

type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type tick struct {
	X     float64
	Label string
}

type legend struct {
	Color, Label string
	Y            int
}

// palette is colour-blind-safe (Okabe-Ito), and prints in grey distinctly.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

func (d *DOE) charts() []chart {
	var out []chart
	for _, prod := range []event.Product{event.ProductCrude, event.ProductGas} {
		var ports []event.PortCode
		byDay := map[string]map[event.PortCode]float64{}
		unit := ""
		for _, dv := range d.Daily {
			if dv.Product != prod {
				continue
			}
			unit = string(dv.Unit)
			if !slices.Contains(ports, dv.Port) {
				ports = append(ports, dv.Port)
			}
			if byDay[dv.Date] == nil {
				byDay[dv.Date] = map[event.PortCode]float64{}
			}
			byDay[dv.Date][dv.Port] += dv.Volume
		}
		if len(ports) == 0 {
			continue
		}
		slices.Sort(ports)
		days := d.period.Days()
		top := 0.0
		for _, m := range byDay {
			s := 0.0
			for _, v := range m {
				s += v
			}
			top = math.Max(top, s)
		}
		const left, plotW, plotH, topPad = 60.0, 620.0, 180.0, 10.0
		c := chart{Title: map[event.Product]string{event.ProductCrude: "Crude oil", event.ProductGas: "Natural gas"}[prod] +
			", daily volume by port of entry", Unit: unit, Width: 900, Height: 230, Max: thousands(int64(math.Round(top)))}
		w := plotW / float64(len(days))
		for i, day := range days {
			y := topPad + plotH
			for j, port := range ports {
				v := byDay[day][port]
				if v <= 0 {
					continue
				}
				h := v / top * plotH
				y -= h
				c.Bars = append(c.Bars, bar{X: left + float64(i)*w + 1, Y: y, W: w - 2, H: h, Color: palette[j%len(palette)],
					Title: fmt.Sprintf("%s %s %s %s", day, portName(port), thousands(int64(math.Round(v))), unit)})
			}
			if t, _ := time.Parse(time.DateOnly, day); t.Day() == 1 || t.Day()%5 == 0 {
				c.Ticks = append(c.Ticks, tick{X: left + float64(i)*w + w/2, Label: strconv.Itoa(t.Day())})
			}
		}
		for j, port := range ports {
			c.Legend = append(c.Legend, legend{Color: palette[j%len(palette)], Label: string(port) + " " + portName(port), Y: 20 + 18*j})
		}
		out = append(out, c)
	}
	return out
}

// HTML renders every report of d as one page a person reads: tables and an
// inline SVG chart of daily volume per port of entry, with print styles so
// that printing it (or PDF) gives clean A4/Letter pages. It is
// deterministic: the same DOE gives the same bytes.
func (d *DOE) HTML() ([]byte, error) {
	var buf bytes.Buffer
	err := doePage.Execute(&buf, struct {
		*DOE
		Charts []chart
	}{d, d.charts()})
	return buf.Bytes(), err
}

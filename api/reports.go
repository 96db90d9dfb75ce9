package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/report"
	"go.uber.org/zap"
)

// ReportCheckpoint is the ledger checkpoint a report file names: the
// transparency log's tree it was computed at. `inbond report verify FILE`
// re-derives the file from the archive at exactly that tree.
type ReportCheckpoint struct {
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"tree_size"`
	Root     string `json:"root" doc:"RFC 6962 root of the log's first tree_size entries, hex"`
}

// ReportFile is one file of a period, as the report scheduler wrote it.
type ReportFile struct {
	Form       string           `json:"form" enum:"eia-814,fe-746r,inbond-summary,metering,doe"`
	Format     string           `json:"format" enum:"csv,json,html"`
	Name       string           `json:"name" doc:"the file's name, <form>-YYYY-MM.<format>"`
	Bytes      int              `json:"bytes"`
	SHA256     string           `json:"sha256" doc:"the file's content hash, hex (also its ETag)"`
	Checkpoint ReportCheckpoint `json:"checkpoint"`
	Href       string           `json:"href" doc:"where the API serves it"`
}

// ReportPeriod is one period's files.
type ReportPeriod struct {
	Period string       `json:"period" doc:"the UTC calendar month, YYYY-MM"`
	Files  []ReportFile `json:"files" nullable:"false"`
}

// ReportList is every period with reports, newest first.
type ReportList struct {
	Periods []ReportPeriod `json:"periods" nullable:"false"`
}

type reportListOutput struct{ Body ReportList }

type reportInput struct {
	Form   string `path:"form" doc:"eia-814, fe-746r, inbond-summary, metering (csv or json), or doe (the html page of all of them)"`
	Period string `path:"period" doc:"the UTC calendar month, YYYY-MM"`
	Format string `query:"format" enum:"csv,json,html" doc:"the file's format (default: json, html for doe)"`
}

type reportOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	ETag         string `header:"ETag"`
	Body         []byte
}

func (s *Server) registerReports() {
	who := roles(roleCBP, roleDOE)
	huma.Register(s.api, op(http.MethodGet, "/v1/reports", "list-reports",
		"The DOE report periods available and their files, each with the ledger checkpoint it names", who), s.listReports)
	o := op(http.MethodGet, "/v1/reports/{form}/{period}", "get-report",
		"One report file as the scheduler wrote it (never computed on request): CSV, JSON or the HTML page", who,
		http.StatusBadRequest, http.StatusNotFound)
	o.Responses = map[string]*huma.Response{"200": {Description: "the file, byte for byte: it names its checkpoint and verifies with `inbond report verify`",
		Content: map[string]*huma.MediaType{
			report.ContentType("csv"):  {Schema: &huma.Schema{Type: huma.TypeString}},
			report.ContentType("json"): {Schema: &huma.Schema{Type: huma.TypeObject, Description: "schema inbond.report.v1 (report/SCHEMA.md)"}},
			report.ContentType("html"): {Schema: &huma.Schema{Type: huma.TypeString}},
		}}}
	huma.Register(s.api, o, s.getReport)
}

// reportDir is the configured directory, or the 503 saying there is none.
func (s *Server) reportDir() (string, *Error) {
	if s.cfg.Reports == "" {
		return "", fail(http.StatusServiceUnavailable, "no reports configured")
	}
	if st, err := os.Stat(s.cfg.Reports); err != nil || !st.IsDir() {
		return "", fail(http.StatusServiceUnavailable, "the report directory is not readable: %v", err)
	}
	return s.cfg.Reports, nil
}

// reportIndex remembers what the listing read of each report file, by
// name, while its size and modification time stay the same: the scheduler
// writes a file whole and renames it into place, so a new file has a new
// modification time, and a listing reads only files it has not seen. Safe
// for concurrent requests (mu).
type reportIndex struct {
	mu    sync.Mutex
	files map[string]indexedReport
}

type indexedReport struct {
	size    int64
	modTime time.Time
	file    ReportFile
	listed  bool // false: named like a report but naming no checkpoint
}

// entry returns the listing's entry for ent, reading the file only when
// the index has not seen it as it is now.
func (x *reportIndex) entry(dir string, ent fs.DirEntry, form report.Form, period report.Period, ext string, log *zap.Logger) (ReportFile, bool, error) {
	info, err := ent.Info()
	if err != nil {
		return ReportFile{}, false, err
	}
	x.mu.Lock()
	c, ok := x.files[ent.Name()]
	x.mu.Unlock()
	if ok && c.size == info.Size() && c.modTime.Equal(info.ModTime()) {
		return c.file, c.listed, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
	if err != nil {
		return ReportFile{}, false, err
	}
	c = indexedReport{size: info.Size(), modTime: info.ModTime()}
	if cp, err := report.Provenance(ext, b); err != nil {
		// Named like a report but naming no checkpoint: not served as
		// one, since it could not be verified.
		log.Warn("report file names no checkpoint; not listed", zap.String("file", ent.Name()), zap.Error(err))
	} else {
		sum := sha256.Sum256(b)
		c.listed = true
		c.file = ReportFile{Form: string(form), Format: ext, Name: ent.Name(),
			Bytes: len(b), SHA256: hex.EncodeToString(sum[:]), Checkpoint: ReportCheckpoint{Origin: cp.Origin, TreeSize: cp.TreeSize, Root: cp.Root},
			Href: "/v1/reports/" + string(form) + "/" + period.String() + "?format=" + ext}
	}
	x.mu.Lock()
	if x.files == nil {
		x.files = map[string]indexedReport{}
	}
	x.files[ent.Name()] = c
	x.mu.Unlock()
	return c.file, c.listed, nil
}

func (s *Server) listReports(context.Context, *struct{}) (*reportListOutput, error) {
	dir, e := s.reportDir()
	if e != nil {
		return nil, e
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "read the report directory: %v", err)
	}
	byPeriod := map[string][]ReportFile{}
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		form, period, ext, err := report.Identify(ent.Name())
		if err != nil {
			continue // not a report file (the scheduler's own state is in a hidden directory)
		}
		f, listed, err := s.reports.entry(dir, ent, form, period, ext, s.log)
		if err != nil {
			return nil, fail(http.StatusServiceUnavailable, "read %s: %v", ent.Name(), err)
		}
		if listed {
			byPeriod[period.String()] = append(byPeriod[period.String()], f)
		}
	}
	out := ReportList{Periods: []ReportPeriod{}}
	for p, files := range byPeriod {
		slices.SortFunc(files, func(a, b ReportFile) int { return strings.Compare(a.Name, b.Name) })
		out.Periods = append(out.Periods, ReportPeriod{Period: p, Files: files})
	}
	slices.SortFunc(out.Periods, func(a, b ReportPeriod) int { return strings.Compare(b.Period, a.Period) })
	return &reportListOutput{out}, nil
}

func (s *Server) getReport(_ context.Context, in *reportInput) (*reportOutput, error) {
	dir, e := s.reportDir()
	if e != nil {
		return nil, e
	}
	p, err := report.ParsePeriod(in.Period)
	if err != nil {
		return nil, badField("period", in.Period, event.RuleFormat, "want a month as YYYY-MM, such as 2026-10")
	}
	form := report.Form(in.Form)
	if form != report.FormDOE && !slices.Contains(report.Forms, form) {
		return nil, fail(http.StatusNotFound, "no report form %q: the forms are eia-814, fe-746r, inbond-summary, metering and doe", in.Form)
	}
	ext := in.Format
	if ext == "" {
		ext = "json"
		if form == report.FormDOE {
			ext = "html"
		}
	}
	if (form == report.FormDOE) != (ext == "html") {
		return nil, fail(http.StatusNotFound, "form %s has no %s file: doe is html, the other forms csv or json", form, ext)
	}
	name := report.FileName(form, p, ext)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fail(http.StatusNotFound, "no report %s: period %s is not produced (yet)", name, p)
	}
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "read %s: %v", name, err)
	}
	sum := sha256.Sum256(b)
	// The scheduler never rewrites a produced period, but a replay's
	// directory may be rewritten: revalidate, with the content hash as the
	// validator.
	return &reportOutput{ContentType: report.ContentType(ext), CacheControl: "private, no-cache",
		ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Body: b}, nil
}

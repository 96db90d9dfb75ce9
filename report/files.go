package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Formats are the file formats WriteFiles knows: csv and json write one
// file per form (Forms), html the one page of all of them, pdf and png
// that page printed by headless Chromium.
var Formats = []string{"csv", "json", "html", "pdf", "png"}

// File is one written report file.
type File struct {
	Name string // base name, <form>-YYYY-MM.<ext>
	Path string
	Data []byte
}

// Files encodes d in the formats given. Each file is a pure function of d
// except the PDF and PNG, which Chromium prints (and stamps with its own
// metadata): they are renderings for people, verified through the HTML.
func Files(ctx context.Context, d *DOE, formats []string) ([]File, error) {
	var out []File
	var html []byte
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("report: format %q: want one of %v", f, Formats)
		}
	}
	for _, ext := range formats {
		switch ext {
		case "csv", "json":
			for _, form := range Forms {
				b, err := d.Encode(form, ext)
				if err != nil {
					return nil, err
				}
				out = append(out, File{Name: FileName(form, d.period, ext), Data: b})
			}
		case "html", "pdf", "png":
			if html == nil {
				var err error
				if html, err = d.HTML(); err != nil {
					return nil, err
				}
			}
			b := html
			if ext != "html" {
				var err error
				if b, err = Render(ctx, html, ext); err != nil {
					return nil, err
				}
			}
			out = append(out, File{Name: FileName(FormDOE, d.period, ext), Data: b})
		}
	}
	return out, nil
}

// WriteFiles writes Files(d, formats) into dir (created when missing),
// each file written whole to a temporary name and renamed, so a reader
// never sees half a report.
func WriteFiles(ctx context.Context, d *DOE, dir string, formats []string) ([]File, error) {
	files, err := Files(ctx, d, formats)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for i := range files {
		files[i].Path = filepath.Join(dir, files[i].Name)
		tmp := files[i].Path + ".tmp"
		if err := os.WriteFile(tmp, files[i].Data, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, files[i].Path); err != nil {
			return nil, err
		}
	}
	return files, nil
}

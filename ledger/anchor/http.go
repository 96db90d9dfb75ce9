package anchor

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
)

// Handler serves the log directory read-only as C2SP tlog-tiles, so any
// standard tlog client (Tessera's client.HTTPFetcher, torchwood, sumdb
// tooling) can read and prove it:
//
//	GET /checkpoint        the latest signed tree head (text/plain, no-cache)
//	GET /tile/...          hash tiles, entry bundles (tile/entries/...) and
//	                       partial tiles (.p/W), application/octet-stream
//	GET /log.vkey          the log's note verifier key
//	GET /healthz           ok once the anchor has read its log
//
// Only GET and HEAD are answered (405 otherwise). Nothing whose path has a
// segment starting with a dot (Tessera's .state/, the anchor's lock) and no
// directory is ever served, and files are opened through an os.Root, so a
// symbolic link cannot lead outside the directory.
func (a *Anchor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("starting\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/log.vkey", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(a.key.vkey + "\n"))
	})
	mux.HandleFunc("/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		a.serveFile(w, r, "checkpoint", func(h http.Header) {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			// A new tree head replaces it every interval: caches must ask again.
			h.Set("Cache-Control", "no-cache")
		})
	})
	mux.HandleFunc("/tile/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !cleanTilePath(name) {
			http.NotFound(w, r)
			return
		}
		a.serveFile(w, r, name, func(h http.Header) {
			h.Set("Content-Type", "application/octet-stream")
			if !strings.Contains(name, ".p/") {
				// A full tile never changes (tlog-tiles); a partial one is
				// replaced by the full tile and may be collected.
				h.Set("Cache-Control", "public, max-age=31536000, immutable")
			}
		})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the log is read-only", http.StatusMethodNotAllowed)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cleanTilePath reports whether name is a plain relative path under tile/:
// no empty, "." or ".." segment and none starting with a dot.
func cleanTilePath(name string) bool {
	segs := strings.Split(name, "/")
	if len(segs) < 3 || segs[0] != "tile" {
		return false
	}
	for _, s := range segs {
		if s == "" || strings.HasPrefix(s, ".") || strings.ContainsRune(s, '\\') {
			return false
		}
	}
	return true
}

// serveFile serves the regular file name of the log directory with the
// headers set sets, or 404 (without them: a missing tile is not immutable).
func (a *Anchor) serveFile(w http.ResponseWriter, r *http.Request, name string, set func(http.Header)) {
	root, err := os.OpenRoot(a.cfg.Dir)
	if err != nil {
		http.Error(w, "log directory unavailable", http.StatusServiceUnavailable)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "not readable", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	set(w.Header())
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

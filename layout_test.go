package inbond_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/inbond/inbond"

// floors is the house as doc.go draws it, lowest first. Every package of the
// module must stand on one.
var floors = [][]string{
	{"", "event"},
	{"wire", "corridors", "ledger", "api/internal/genbasemap"},
	{"internal/bus", "internal/obs", "internal/retry", "internal/realkafka"},
	{"internal/embedded"},
	{"state", "ingest"},
	{"alerts", "ledger/anchor", "ledger/audit"},
	{"processor", "sim", "internal/testenv", "alerts/desk", "alerts/webhook", "report"},
	{"ingest/ingesttest", "api"},
	{"pipeline"},
	{"demo", "replay"},
	{"cmd/inbond", "ledger/independent"},
}

// violations returns, for the module's packages and their in-module imports,
// every import that does not point to a lower floor, and every package that
// stands on no floor.
func violations(imports map[string][]string) []string {
	floor := map[string]int{}
	for i, pkgs := range floors {
		for _, p := range pkgs {
			floor[p] = i
		}
	}
	var out []string
	for pkg, deps := range imports {
		f, ok := floor[pkg]
		if !ok {
			out = append(out, fmt.Sprintf("%s stands on no floor: add it to floors in layout_test.go and to doc.go", show(pkg)))
			continue
		}
		for _, d := range deps {
			if g, ok := floor[d]; ok && g >= f {
				out = append(out, fmt.Sprintf("%s (floor %d) imports %s (floor %d): imports must point down", show(pkg), f, show(d), g))
			}
		}
	}
	slices.Sort(out)
	return out
}

func show(pkg string) string {
	if pkg == "" {
		return module
	}
	return pkg
}

// moduleImports lists every package of the module with the module's packages
// it imports, its in-package tests included ("" is the module's root).
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, "./...").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr) // an import cycle, say
		}
		t.Fatalf("go list: %v", err)
	}
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, _ := rel(fields[0])
		imports[pkg] = nil
		for _, d := range fields[1:] {
			if r, ok := rel(d); ok && !slices.Contains(imports[pkg], r) {
				imports[pkg] = append(imports[pkg], r)
			}
		}
	}
	return imports
}

// TestImportsPointDown keeps the house as it is drawn: a package that imports
// one above or beside it, or a new package on no floor, fails here.
func TestImportsPointDown(t *testing.T) {
	imports := moduleImports(t)
	if len(imports) < 10 {
		t.Fatalf("go list found only %d packages: %v", len(imports), imports)
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

// The checker itself catches the back imports it exists for.
func TestViolationsCatchBackImports(t *testing.T) {
	for name, c := range map[string]struct {
		imports map[string][]string
		want    int
	}{
		"down":            {map[string][]string{"processor": {"state", "event"}, "state": {"event"}, "event": nil}, 0},
		"up":              {map[string][]string{"processor": {"pipeline"}, "pipeline": nil}, 1},
		"beside":          {map[string][]string{"state": {"ingest"}, "ingest": nil}, 1},
		"gateway to sim":  {map[string][]string{"ingest": {"sim"}}, 1},
		"into the ground": {map[string][]string{"internal/bus": {"demo"}}, 1},
		"on no floor":     {map[string][]string{"newthing": {"event"}}, 1},
	} {
		if got := violations(c.imports); len(got) != c.want {
			t.Errorf("%s: %d violations %v, want %d", name, len(got), got, c.want)
		}
	}
}

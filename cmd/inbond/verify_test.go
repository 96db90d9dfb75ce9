package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestVerifyOffline replays the deviations traffic once, then checks one of
// its offline proofs with `inbond verify --offline` as an auditor would: the
// proof as written verifies, and each tampered copy fails with a message
// naming what was done to it.
func TestVerifyOffline(t *testing.T) {
	bin := build(t)
	tmp := t.TempDir()
	traffic := filepath.Join(tmp, "deviations.jsonl")
	runInbond(t, bin, "simulate", "--scenario", "deviations", "--out", traffic, "--log-level", "warn")
	out := filepath.Join(tmp, "out")
	runInbond(t, bin, "replay", "--log-level", "warn", "--replay-key-file", filepath.Join(tmp, "replay.key"), "--out", out, traffic)
	vkey := filepath.Join(out, "log.vkey")

	// The smallest proof: the checks below run it many times.
	files, err := filepath.Glob(filepath.Join(out, "receipts", "*.tlog-proof"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no offline proof in %s/receipts (%v)", out, err)
	}
	var file string
	var raw []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if raw == nil || len(b) < len(raw) {
			file, raw = f, b
		}
	}
	shipment := strings.TrimSuffix(filepath.Base(file), ".tlog-proof")
	p := parseOffline(t, raw)
	if len(p.extra.Events) < 3 {
		t.Fatalf("%s has %d events, too few to tamper with", file, len(p.extra.Events))
	}
	if got := p.marshal(t); !bytes.Equal(got, raw) {
		t.Fatal("decoding and re-encoding the proof here does not give it back byte for byte: the tampered copies would differ by more than their edit")
	}
	mid := len(p.extra.Events) / 2

	t.Run("as written", func(t *testing.T) {
		stdout, stderr, err := verifyOffline(bin, file, vkey)
		if err != nil {
			t.Fatalf("inbond verify --offline %s: %v\n%s%s", file, err, stdout, stderr)
		}
		if !strings.HasPrefix(stdout, "VERIFIED shipment "+shipment+"\n") {
			t.Fatalf("inbond verify --offline printed:\n%s", stdout)
		}
		t.Logf("\n%s", stdout)
	})

	number := regexp.MustCompile(`":(\d)`) // the first digit of a JSON number
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, p *offline)
		key    string // "": log.vkey
		want   string
	}{
		{"an event's value edited", func(t *testing.T, p *offline) {
			for i := mid; i < len(p.extra.Events); i++ {
				v := p.extra.Events[i].Value
				if m := number.FindSubmatchIndex(v); m != nil {
					v = bytes.Clone(v)
					v[m[2]] = '0' + (v[m[2]]-'0'+1)%10
					p.extra.Events[i].Value = v
					return
				}
			}
			t.Fatal("no event after the middle has a number")
		}, "", "was changed"},
		{"an event removed", func(t *testing.T, p *offline) {
			p.extra.Events = append(p.extra.Events[:mid:mid], p.extra.Events[mid+1:]...)
		}, "", "was removed"},
		{"two adjacent events swapped", func(t *testing.T, p *offline) {
			// Values and heads trade places; the offsets stay in order, as
			// an archive's would.
			a, b := &p.extra.Events[mid], &p.extra.Events[mid+1]
			a.Value, b.Value = b.Value, a.Value
			a.Head, b.Head = b.Head, a.Head
		}, "", "are swapped"},
		{"two adjacent events swapped with their offsets", func(t *testing.T, p *offline) {
			e := p.extra.Events
			e[mid], e[mid+1] = e[mid+1], e[mid]
		}, "", "out of offset order"},
		{"another key of the same name", func(*testing.T, *offline) {}, "other", "does not verify with key"},
		{"the checkpoint's end edited", func(t *testing.T, p *offline) {
			p.editCheckpoint(t, "to", func(v json.RawMessage) json.RawMessage {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return json.RawMessage(strconv.FormatInt(n+1, 10))
			})
		}, "", "checkpoint record is not entry"},
		{"the checkpoint's time edited", func(t *testing.T, p *offline) {
			p.editCheckpoint(t, "time", func(v json.RawMessage) json.RawMessage {
				var at time.Time
				if err := json.Unmarshal(v, &at); err != nil {
					t.Fatal(err)
				}
				return compactJSON(t, at.Add(time.Second))
			})
		}, "", "checkpoint record is not entry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := parseOffline(t, raw)
			c.tamper(t, q)
			tampered := filepath.Join(t.TempDir(), shipment+".tlog-proof")
			if err := os.WriteFile(tampered, q.marshal(t), 0o644); err != nil {
				t.Fatal(err)
			}
			key := vkey
			if c.key != "" {
				key = otherKey(t, vkey)
			}
			stdout, stderr, err := verifyOffline(bin, tampered, key)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("inbond verify --offline of a copy with %s: %v, want a non-zero exit\n%s%s", c.name, err, stdout, stderr)
			}
			if !strings.Contains(stderr, "FAILED offline proof") || !strings.Contains(stderr, c.want) {
				t.Fatalf("with %s, inbond verify said\n%s\nwant it to say %q", c.name, stderr, c.want)
			}
			if strings.Contains(stdout, "VERIFIED") {
				t.Fatalf("with %s, inbond verify printed %s", c.name, stdout)
			}
			t.Logf("%s", stderr)
		})
	}
}

func runInbond(t *testing.T, bin string, args ...string) {
	t.Helper()
	t.Logf("$ inbond %s", strings.Join(args, " "))
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("inbond %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func verifyOffline(bin, file, key string) (stdout, stderr string, err error) {
	cmd := exec.Command(bin, "verify", "--offline", file, "--key", key)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// otherKey writes the verifier key of a new key named as vkey's log.
func otherKey(t *testing.T, vkey string) string {
	t.Helper()
	b, err := os.ReadFile(vkey)
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(strings.TrimSpace(string(b)), "+")
	_, verifier, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other.vkey")
	if err := os.WriteFile(path, []byte(verifier+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// offline is an offline proof with its extra data decoded: the event values
// and the receipt kept as raw JSON, so re-encoding changes only what a test
// edits.
type offline struct {
	header, rest []byte // the lines before and after the extra line
	extra        struct {
		Events []struct {
			Head   string          `json:"head"`
			Offset int64           `json:"offset"`
			Value  json.RawMessage `json:"value"`
		} `json:"events"`
		Receipt json.RawMessage `json:"receipt"`
		V       string          `json:"v"`
	}
}

func parseOffline(t *testing.T, raw []byte) *offline {
	t.Helper()
	header, rest, _ := bytes.Cut(raw, []byte("\n"))
	line, rest, _ := bytes.Cut(rest, []byte("\n"))
	b64, ok := bytes.CutPrefix(line, []byte("extra "))
	if !ok {
		t.Fatalf("the proof's second line is not its extra data: %.40q", line)
	}
	x, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		t.Fatal(err)
	}
	p := &offline{header: header, rest: rest}
	if err := json.Unmarshal(x, &p.extra); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *offline) marshal(t *testing.T) []byte {
	t.Helper()
	x := compactJSON(t, &p.extra)
	var b bytes.Buffer
	b.Write(p.header)
	b.WriteString("\nextra " + base64.StdEncoding.EncodeToString(x) + "\n")
	b.Write(p.rest)
	return b.Bytes()
}

// editCheckpoint replaces field of the receipt's checkpoint object.
func (p *offline) editCheckpoint(t *testing.T, field string, edit func(json.RawMessage) json.RawMessage) {
	t.Helper()
	var r map[string]json.RawMessage
	if err := json.Unmarshal(p.extra.Receipt, &r); err != nil {
		t.Fatal(err)
	}
	var cp map[string]json.RawMessage
	if err := json.Unmarshal(r["checkpoint"], &cp); err != nil {
		t.Fatal(err)
	}
	was := cp[field]
	if was == nil {
		t.Fatalf("the receipt's checkpoint has no %q", field)
	}
	cp[field] = edit(was)
	t.Logf("checkpoint %s: %s -> %s", field, was, cp[field])
	r["checkpoint"] = compactJSON(t, cp)
	p.extra.Receipt = compactJSON(t, r)
}

// compactJSON encodes v as the proofs do: no HTML escaping, maps' keys
// sorted, no trailing newline.
func compactJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Package independent_test checks what `inbond replay --out DIR` writes, the
// transparency log DIR/log, its key DIR/log.vkey and every offline proof in
// DIR/receipts, the way an outside auditor would: with the published formats
// (C2SP tlog-tiles, tlog-checkpoint, tlog-proof, signed notes, RFC 6962,
// RFC 8785) and public libraries only. It imports no package of the inbond
// module (TestVerifyImportsNoInbondPackage holds it to that): inbond is only
// the binary it runs, so a bug shared by inbond's writer and inbond's
// verifier cannot hide here.
//
// The layouts it relies on, as ledger/doc.go states them:
//
//   - chain: head_0 = 32 zero bytes, head_i = SHA-256(head_{i-1} || value_i)
//     over the exact bytes of each of the shipment's records;
//   - leaf: the RFC 8785 JSON {"count":N,"head":"<hex>","shipment":"<id>"},
//     hashed as an RFC 6962 leaf; a checkpoint's root is the RFC 6962 root
//     over its leaves;
//   - log entry: the RFC 8785 JSON of the checkpoint object;
//   - offline proof: a C2SP tlog-proof whose extra data is the RFC 8785 JSON
//     {"events":[{"head","offset","value"}...],"receipt":{...},"v":"inbond.proof/v1"}.
package independent_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

const module = "github.com/inbond/inbond"

var hasher = rfc6962.DefaultHasher

// TestVerifyImportsNoInbondPackage keeps this package independent: the
// check below means something only while it shares no code with inbond.
func TestVerifyImportsNoInbondPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}
{{join .TestImports "\n"}}
{{join .XTestImports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, imp := range strings.Fields(string(out)) {
		n++
		if imp == module || strings.HasPrefix(imp, module+"/") {
			t.Errorf("ledger/independent imports %s: it must verify with public libraries only", imp)
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d imports:\n%s", n, out)
	}
}

// TestVerifyWithPublicLibrariesOnly replays the deviations traffic with the
// inbond binary and verifies everything the replay wrote about the ledger.
func TestVerifyWithPublicLibrariesOnly(t *testing.T) {
	ctx := context.Background()
	dir, replayed := replayDeviations(t)
	logDir := filepath.Join(dir, "log")
	fetch := client.FileFetcher{Root: logDir}

	// (a) The signed checkpoint verifies with the key the replay published.
	vkey, err := os.ReadFile(filepath.Join(dir, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatalf("log.vkey: %v", err)
	}
	signed, err := fetch.ReadCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, _, _, err := log.ParseCheckpoint(signed, verifier.Name(), verifier)
	if err != nil {
		t.Fatalf("the log's checkpoint does not verify with log.vkey: %v\n%s", err, signed)
	}
	t.Logf("log %q: signed tree of size %d, root %x (key hash %08x)", tree.Origin, tree.Size, tree.Hash, verifier.KeyHash())
	if tree.Size == 0 {
		t.Fatal("the log is empty")
	}
	if _, _, _, err := log.ParseCheckpoint(flipByte(signed, len(signed)-10), verifier.Name(), verifier); err == nil {
		t.Error("a checkpoint with a byte of its signature flipped still verifies")
	}

	// (b) Every entry, read from the entry bundles, is a checkpoint object in
	// canonical form, included in the signed tree by a proof built from the
	// tiles; the leaf hashes of the entries give the signed root.
	entries := readEntries(ctx, t, fetch, tree.Size)
	pb, err := client.NewProofBuilder(ctx, tree.Size, fetch.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	// roots[m] is the root of the tree of the first m entries, computed here.
	roots := make([][]byte, tree.Size+1)
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	roots[0] = hasher.EmptyRoot()
	var leavesInLog uint64
	lastTo := map[int]int64{}
	gaps := 0
	for i, entry := range entries {
		idx := uint64(i)
		cp, err := parseCheckpointObject(entry)
		if err != nil {
			t.Fatalf("log entry %d: %v\n%s", i, err, entry)
		}
		if canon, err := jcs.Transform(entry); err != nil || !bytes.Equal(canon, entry) {
			t.Errorf("log entry %d is not in RFC 8785 form (%v):\n%s\n%s", i, err, entry, canon)
		}
		leavesInLog += cp.Leaves
		if prev, ok := lastTo[cp.Partition]; ok && cp.From < prev {
			t.Errorf("log entry %d covers %s/%d [%d, %d), overlapping the partition's previous checkpoint ending at %d", i, cp.Topic, cp.Partition, cp.From, cp.To, prev)
		} else if cp.From != prev {
			gaps++
		}
		lastTo[cp.Partition] = cp.To
		leafHash := hasher.HashLeaf(entry)
		incl, err := pb.InclusionProof(ctx, idx)
		if err != nil {
			t.Fatalf("inclusion proof of entry %d from the tiles: %v", i, err)
		}
		if err := proof.VerifyInclusion(hasher, idx, tree.Size, leafHash, incl, tree.Hash); err != nil {
			t.Errorf("log entry %d is not included in the signed tree: %v", i, err)
		}
		if err := cr.Append(leafHash, nil); err != nil {
			t.Fatal(err)
		}
		if roots[idx+1], err = cr.GetRootHash(nil); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(roots[tree.Size], tree.Hash) {
		t.Fatalf("the entries in the bundles give root %x, the signed tree %x", roots[tree.Size], tree.Hash)
	}
	if leaves, err := client.FetchLeafHashes(ctx, fetch.ReadTile, 0, tree.Size, tree.Size); err != nil {
		t.Fatal(err)
	} else {
		for i, h := range leaves {
			if !bytes.Equal(h, hasher.HashLeaf(entries[i])) {
				t.Errorf("level-0 tile holds hash %x for entry %d, its bundle's bytes hash to %x", h, i, hasher.HashLeaf(entries[i]))
			}
		}
	}
	t.Logf("%d log entries over %d partitions, %d shipment leaves in all, %d checkpoints not starting where their partition's previous one ended",
		len(entries), len(lastTo), leavesInLog, gaps)

	// (d) The log is append-only between any earlier size and the signed one:
	// consistency proofs from the tiles against roots computed here.
	for m := uint64(1); m < tree.Size; m++ {
		cons, err := pb.ConsistencyProof(ctx, m, tree.Size)
		if err != nil {
			t.Fatalf("consistency proof %d -> %d: %v", m, tree.Size, err)
		}
		if err := proof.VerifyConsistency(hasher, m, tree.Size, cons, roots[m], tree.Hash); err != nil {
			t.Errorf("the tree of size %d (root %x) is not a prefix of the signed tree: %v", m, roots[m], err)
		}
		if m == tree.Size/2 {
			t.Logf("consistency %d -> %d: %d hashes, verified", m, tree.Size, len(cons))
			if proof.VerifyConsistency(hasher, m, tree.Size, cons, flipByte(roots[m], 0), tree.Hash) == nil {
				t.Error("a consistency proof verifies against a wrong earlier root")
			}
		}
	}

	// (c) Every shipment has an offline proof, and every one verifies.
	ships := readShipments(t, filepath.Join(dir, "shipments.jsonl"))
	files, err := filepath.Glob(filepath.Join(dir, "receipts", "*.tlog-proof"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(ships) || len(ships) == 0 {
		t.Fatalf("%d offline proofs for %d shipments in shipments.jsonl", len(files), len(ships))
	}
	if uint64(len(files)) > leavesInLog {
		t.Fatalf("%d receipts but only %d leaves in all the log's checkpoints", len(files), leavesInLog)
	}
	l := logView{verifier: verifier, entries: entries, roots: roots}
	var smallest []byte
	var events int
	for _, ship := range ships {
		raw, err := os.ReadFile(filepath.Join(dir, "receipts", ship+".tlog-proof"))
		if err != nil {
			t.Fatalf("shipment %s has no offline proof: %v", ship, err)
		}
		got, err := l.verifyProof(raw)
		if err != nil {
			t.Errorf("offline proof of %s: %v", ship, err)
			continue
		}
		if got.shipment != ship {
			t.Errorf("%s.tlog-proof proves shipment %s", ship, got.shipment)
		}
		if got.treeSize != tree.Size || !bytes.Equal(got.treeRoot, tree.Hash) {
			t.Logf("%s is proven against an earlier tree of size %d (consistent with the log's)", ship, got.treeSize)
		}
		events += got.events
		t.Logf("%s: %d events chain to the leaf %d/%d of log entry %d (%s/%d [%d, %d)), %d log proof hashes, %d batch proof hashes",
			ship, got.events, got.leafIndex, got.leaves, got.logIndex, got.topic, got.partition, got.from, got.to, got.logProof, got.batchProof)
		if smallest == nil || len(raw) < len(smallest) {
			smallest = raw
		}
	}
	t.Logf("%d offline proofs verified: %d events in all", len(files), events)
	// Every record the gateways wrote to inbond.events is a shipment's, so
	// the proven histories hold all of them, each once.
	if events != replayed {
		t.Errorf("the offline proofs prove %d events, the replay wrote %d to inbond.events", events, replayed)
	}

	// Tampered copies of one proof fail the independent check, each where it
	// should. The last two pass `inbond verify` as it stands (the ledger
	// skips events past the checkpoint's end and reads the extra data with
	// encoding/json, last duplicate key winning): this check is stricter.
	for _, c := range []struct {
		name string
		edit func(x []byte) ([]byte, error)
		want error // nil: any error
	}{
		{"one digit of an event's value changed", func(x []byte) ([]byte, error) {
			at := bytes.Index(x, []byte(`"value":{`))
			if at < 0 {
				return nil, errors.New("no event value")
			}
			for i := at; i < len(x); i++ {
				if c := x[i]; c >= '0' && c <= '9' {
					x = slices.Clone(x)
					x[i] = '0' + (c-'0'+1)%10
					return x, nil
				}
			}
			return nil, errors.New("no digit in the events")
		}, errChain},
		{"an event made up past the checkpoint's end", func(x []byte) ([]byte, error) {
			var e proofExtra
			if err := json.Unmarshal(x, &e); err != nil {
				return nil, err
			}
			cp, err := parseCheckpointObject(e.Receipt.Checkpoint)
			if err != nil {
				return nil, err
			}
			at := bytes.Index(x, []byte(`],"receipt":`))
			if at < 0 {
				return nil, errors.New("no end of events")
			}
			fake := fmt.Sprintf(`,{"head":"%s","offset":%d,"value":{"subject":%s}}`, strings.Repeat("0", 64), cp.To+5, jcsString(e.Receipt.Leaf.Shipment))
			return slices.Concat(x[:at], []byte(fake), x[at:]), nil
		}, errChain},
		{"a made-up value before an event's own (a duplicate key)", func(x []byte) ([]byte, error) {
			at := bytes.Index(x, []byte(`"value":`))
			if at < 0 {
				return nil, errors.New("no event value")
			}
			return slices.Concat(x[:at], []byte(`"value":{"made":"up"},`), x[at:]), nil
		}, nil},
	} {
		tampered, err := editExtra(smallest, c.edit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = l.verifyProof(tampered)
		switch {
		case err == nil:
			t.Errorf("%s: the independent check passes", c.name)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		default:
			t.Logf("%s: fails: %v", c.name, err)
		}
	}
}

// replayDeviations builds the inbond binary, writes the deviations traffic
// and replays it; it returns the replay's output directory and how many
// events the replay says reached inbond.events.
func replayDeviations(t *testing.T) (string, int) {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "inbond")
	run(t, "go", "build", "-o", bin, "../../cmd/inbond")
	traffic := filepath.Join(tmp, "deviations.jsonl")
	run(t, bin, "simulate", "--scenario", "deviations", "--out", traffic, "--log-level", "warn")
	dir := filepath.Join(tmp, "out")
	out := run(t, bin, "replay", "--log-level", "warn", "--replay-key-file", filepath.Join(tmp, "replay.key"), "--out", dir, traffic)
	t.Logf("replay said:\n%s", out)
	m := regexp.MustCompile(`replayed \d+ messages \((\d+) events,`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("the replay's summary names no event count")
	}
	events, _ := strconv.Atoi(m[1])
	return dir, events
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	t.Logf("$ %s %s", filepath.Base(name), strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("  (%s)", time.Since(began).Round(time.Millisecond))
	return stdout.String()
}

// readEntries reads every entry of the tree of size n from its entry bundles.
func readEntries(ctx context.Context, t *testing.T, f client.FileFetcher, n uint64) [][]byte {
	t.Helper()
	size := func(context.Context) (uint64, error) { return n, nil }
	bundles := client.EntryBundles(ctx, 2, size, f.ReadEntryBundle, 0, n)
	unbundle := func(raw []byte) ([][]byte, error) {
		var b api.EntryBundle
		err := b.UnmarshalText(raw)
		return b.Entries, err
	}
	var out [][]byte
	for e, err := range client.Entries(bundles, unbundle) {
		if err != nil {
			t.Fatalf("read the log's entry bundles: %v", err)
		}
		if e.Index != uint64(len(out)) {
			t.Fatalf("entry bundles gave entry %d after %d entries", e.Index, len(out))
		}
		out = append(out, e.Entry)
	}
	if uint64(len(out)) != n {
		t.Fatalf("the entry bundles hold %d entries, the signed tree %d", len(out), n)
	}
	// The bundles read one by one give the same.
	for i := uint64(0); i*256 < n; i++ {
		b, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i, n)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range b.Entries {
			if k := i*256 + uint64(j); k < n && !bytes.Equal(e, out[k]) {
				t.Fatalf("entry %d differs between reads", k)
			}
		}
	}
	return out
}

// readShipments returns the ids of shipments.jsonl, one state a line.
func readShipments(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.Lines(string(b)) {
		var s struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil || s.ID == "" {
			t.Fatalf("shipments.jsonl: %q: %v", line, err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

// checkpointObject is a log entry, the checkpoint of one partition's interval.
type checkpointObject struct {
	V         string `json:"v"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	From      int64  `json:"from"`
	To        int64  `json:"to"`
	Time      string `json:"time"`
	Leaves    uint64 `json:"leaves"`
	Root      []byte `json:"root"` // standard base64
}

// parseCheckpointObject reads a checkpoint object, which must have exactly
// its eight fields.
func parseCheckpointObject(b []byte) (checkpointObject, error) {
	var c checkpointObject
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return c, err
	}
	want := []string{"from", "leaves", "partition", "root", "time", "to", "topic", "v"}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return c, fmt.Errorf("checkpoint has fields %v, want %v", got, want)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	switch {
	case c.V != "inbond.checkpoint/v1":
		return c, fmt.Errorf("checkpoint version %q", c.V)
	case c.Topic != "inbond.events":
		return c, fmt.Errorf("checkpoint of topic %q", c.Topic)
	case c.Partition < 0 || c.From < 0 || c.From >= c.To:
		return c, fmt.Errorf("checkpoint covers partition %d [%d, %d)", c.Partition, c.From, c.To)
	case c.Leaves == 0:
		return c, errors.New("checkpoint has no leaf")
	case len(c.Root) != sha256.Size:
		return c, fmt.Errorf("checkpoint root is %d bytes", len(c.Root))
	}
	at, err := time.Parse(time.RFC3339Nano, c.Time)
	if err != nil {
		return c, fmt.Errorf("checkpoint time: %w", err)
	}
	if at.Location() != time.UTC || at.Nanosecond()%int(time.Millisecond) != 0 {
		return c, fmt.Errorf("checkpoint time %q is not UTC milliseconds", c.Time)
	}
	return c, nil
}

// tlogProof is a C2SP tlog-proof: https://c2sp.org/tlog-proof.
type tlogProof struct {
	extra      []byte // decoded
	index      uint64
	hashes     [][]byte
	checkpoint []byte // the signed note, verbatim
}

// parseTlogProof reads a tlog-proof line by line with a bufio.Reader: the
// extra line of a long history is megabytes, past bufio.Scanner's limit.
func parseTlogProof(raw []byte) (*tlogProof, error) {
	r := bufio.NewReader(bytes.NewReader(raw))
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil {
			return s, fmt.Errorf("tlog-proof ends early: %w", err)
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	var p tlogProof
	s, err := line()
	if err != nil {
		return nil, err
	}
	if s != "c2sp.org/tlog-proof@v1" {
		return nil, fmt.Errorf("tlog-proof header %q", s)
	}
	if s, err = line(); err != nil {
		return nil, err
	}
	if b64, ok := strings.CutPrefix(s, "extra "); ok {
		if p.extra, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return nil, fmt.Errorf("tlog-proof extra: %w", err)
		}
		if s, err = line(); err != nil {
			return nil, err
		}
	}
	n, ok := strings.CutPrefix(s, "index ")
	if !ok {
		return nil, fmt.Errorf("tlog-proof: want an index line, got %.40q", s)
	}
	if p.index, err = strconv.ParseUint(n, 10, 64); err != nil {
		return nil, fmt.Errorf("tlog-proof index: %w", err)
	}
	for {
		if s, err = line(); err != nil {
			return nil, err
		}
		if s == "" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("tlog-proof hash %q: not 32 bytes of base64 (%v)", s, err)
		}
		p.hashes = append(p.hashes, h)
	}
	if p.checkpoint, err = io.ReadAll(r); err != nil {
		return nil, err
	}
	return &p, nil
}

// formatTlogProof writes p back, for tampering with a copy.
func formatTlogProof(p *tlogProof) []byte {
	var b bytes.Buffer
	b.WriteString("c2sp.org/tlog-proof@v1\n")
	if p.extra != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.extra) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.index)
	for _, h := range p.hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.checkpoint)
	return b.Bytes()
}

// editExtra is raw with its extra data passed through edit.
func editExtra(raw []byte, edit func([]byte) ([]byte, error)) ([]byte, error) {
	p, err := parseTlogProof(raw)
	if err != nil {
		return nil, err
	}
	if p.extra, err = edit(p.extra); err != nil {
		return nil, err
	}
	return formatTlogProof(p), nil
}

// proofExtra is an offline proof's extra data; json.RawMessage keeps each
// event's value byte for byte, the bytes the chain hashed.
type proofExtra struct {
	V       string `json:"v"`
	Receipt struct {
		Leaf struct {
			Shipment string `json:"shipment"`
			Count    uint64 `json:"count"`
			Head     string `json:"head"`
		} `json:"leaf"`
		LeafIndex  uint64          `json:"leaf_index"`
		BatchProof [][]byte        `json:"batch_proof"`
		Checkpoint json.RawMessage `json:"checkpoint"`
		LogIndex   uint64          `json:"log_index"`
	} `json:"receipt"`
	Events []struct {
		Offset int64           `json:"offset"`
		Value  json.RawMessage `json:"value"`
		Head   string          `json:"head"`
	} `json:"events"`
}

// logView is what a receipt is checked against: the log's key, and its
// entries and the roots of its prefixes as read and computed above.
type logView struct {
	verifier note.Verifier
	entries  [][]byte
	roots    [][]byte
}

// verified is what one offline proof proved.
type verified struct {
	shipment             string
	events               int
	leafIndex, leaves    uint64
	logIndex, treeSize   uint64
	treeRoot             []byte
	topic                string
	partition            int
	from, to             int64
	logProof, batchProof int
}

var (
	errChain = errors.New("the events do not chain to the leaf")
	errBatch = errors.New("the leaf is not in the checkpoint")
	errLog   = errors.New("the checkpoint is not in the signed log")
)

// verifyProof checks one offline proof from its bytes alone, then against
// the log's own entries.
func (l logView) verifyProof(raw []byte) (verified, error) {
	var v verified
	p, err := parseTlogProof(raw)
	if err != nil {
		return v, err
	}
	// The signed tree head.
	tree, _, _, err := log.ParseCheckpoint(p.checkpoint, l.verifier.Name(), l.verifier)
	if err != nil {
		return v, fmt.Errorf("the proof's checkpoint does not verify: %w", err)
	}
	v.treeSize, v.treeRoot = tree.Size, tree.Hash

	// The extra data: canonical JSON of exactly the fields named.
	if canon, err := jcs.Transform(p.extra); err != nil || !bytes.Equal(canon, p.extra) {
		return v, fmt.Errorf("the extra data is not RFC 8785 JSON (%v)", err)
	}
	var x proofExtra
	dec := json.NewDecoder(bytes.NewReader(p.extra))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return v, fmt.Errorf("extra data: %w", err)
	}
	if x.V != "inbond.proof/v1" {
		return v, fmt.Errorf("extra data version %q", x.V)
	}
	r := x.Receipt
	v.shipment, v.leafIndex, v.logIndex = r.Leaf.Shipment, r.LeafIndex, r.LogIndex
	v.logProof, v.batchProof = len(p.hashes), len(r.BatchProof)
	if r.LogIndex != p.index {
		return v, fmt.Errorf("the proof is for log entry %d, its receipt names %d", p.index, r.LogIndex)
	}
	cp, err := parseCheckpointObject(r.Checkpoint)
	if err != nil {
		return v, fmt.Errorf("the receipt's checkpoint: %w", err)
	}
	v.leaves, v.topic, v.partition, v.from, v.to = cp.Leaves, cp.Topic, cp.Partition, cp.From, cp.To

	// 1. The chain: every event, in offset order, before the checkpoint's
	// end, gives the leaf's count and head. (The heads the export wrote
	// beside the events prove nothing; they are checked after, as a guide.)
	head := make([]byte, sha256.Size)
	heads := make([]string, len(x.Events))
	for i, e := range x.Events {
		if i > 0 && e.Offset <= x.Events[i-1].Offset {
			return v, fmt.Errorf("%w: event %d at offset %d follows offset %d", errChain, i, e.Offset, x.Events[i-1].Offset)
		}
		if e.Offset >= cp.To {
			return v, fmt.Errorf("%w: event %d at offset %d is past the checkpoint's end %d", errChain, i, e.Offset, cp.To)
		}
		var subject struct {
			Subject string `json:"subject"`
		}
		if err := json.Unmarshal(e.Value, &subject); err != nil || subject.Subject != r.Leaf.Shipment {
			return v, fmt.Errorf("event at offset %d is not the shipment's (subject %q, %v)", e.Offset, subject.Subject, err)
		}
		h := sha256.New()
		h.Write(head)
		h.Write(e.Value)
		head = h.Sum(nil)
		heads[i] = hex.EncodeToString(head)
	}
	v.events = len(x.Events)
	if uint64(len(x.Events)) != r.Leaf.Count || hex.EncodeToString(head) != r.Leaf.Head {
		return v, fmt.Errorf("%w: %d events chain to %x, the leaf records %d events and head %s", errChain, len(x.Events), head, r.Leaf.Count, r.Leaf.Head)
	}
	for i, e := range x.Events {
		if e.Head != heads[i] {
			return v, fmt.Errorf("the export wrote head %s after event %d at offset %d, the chain is at %s there", e.Head, i, e.Offset, heads[i])
		}
	}

	// 2. The leaf in the checkpoint's batch tree.
	if len(r.Leaf.Head) != 64 || strings.ToLower(r.Leaf.Head) != r.Leaf.Head {
		return v, fmt.Errorf("%w: leaf head %q is not 64 lowercase hex digits", errBatch, r.Leaf.Head)
	}
	leaf := fmt.Sprintf(`{"count":%d,"head":"%s","shipment":%s}`, r.Leaf.Count, r.Leaf.Head, jcsString(r.Leaf.Shipment))
	if canon, err := jcs.Transform([]byte(leaf)); err != nil || string(canon) != leaf {
		return v, fmt.Errorf("the leaf written here is not its own RFC 8785 form: %s vs %s (%v)", leaf, canon, err)
	}
	if err := proof.VerifyInclusion(hasher, r.LeafIndex, cp.Leaves, hasher.HashLeaf([]byte(leaf)), r.BatchProof, cp.Root); err != nil {
		return v, fmt.Errorf("%w: leaf %d of %d, %s: %v", errBatch, r.LeafIndex, cp.Leaves, leaf, err)
	}

	// 3. The checkpoint in the signed log.
	entry, err := jcs.Transform(r.Checkpoint)
	if err != nil {
		return v, err
	}
	if err := proof.VerifyInclusion(hasher, r.LogIndex, tree.Size, hasher.HashLeaf(entry), p.hashes, tree.Hash); err != nil {
		return v, fmt.Errorf("%w: entry %d of the tree of size %d: %v", errLog, r.LogIndex, tree.Size, err)
	}

	// And against the log itself: the proof's tree is one of the log's, and
	// its entry is the log's.
	if tree.Size >= uint64(len(l.roots)) || !bytes.Equal(l.roots[tree.Size], tree.Hash) {
		return v, fmt.Errorf("%w: the proof's tree of size %d (root %x) is not a prefix of the log", errLog, tree.Size, tree.Hash)
	}
	if !bytes.Equal(l.entries[r.LogIndex], entry) {
		return v, fmt.Errorf("%w: the receipt's checkpoint %s is not the log's entry %d %s", errLog, entry, r.LogIndex, l.entries[r.LogIndex])
	}
	return v, nil
}

// jcsString is s as an RFC 8785 string (section 3.2.2.2): quoted, with only
// the quote, the backslash and the control characters escaped.
func jcsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func flipByte(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x01
	return b
}

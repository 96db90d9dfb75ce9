package anchor_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// offline is a config New accepts without reaching Kafka or Redis (New
// contacts neither).
func offline(t *testing.T, dir, keyFile string) anchor.Config {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.NewStore(rdb, "t:anchor-key:")
	if err != nil {
		t.Fatal(err)
	}
	return anchor.Config{Brokers: []string{"127.0.0.1:1"}, Dir: dir, KeyFile: keyFile, Store: store, Redis: rdb}
}

// The first run generates the key, private to its owner in a directory it
// creates; later runs load the same key; the origin is the key's name.
func TestKeyIsGeneratedOnceAndKept(t *testing.T) {
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "config", "inbond", "ledger.key")
	a, err := anchor.New(offline(t, filepath.Join(tmp, "log"), keyFile))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(keyFile)); di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode %v, want 0700", di.Mode().Perm())
	}
	skey, _ := os.ReadFile(keyFile)
	if !strings.HasPrefix(string(skey), "PRIVATE+KEY+"+anchor.DefaultOrigin+"+") {
		t.Fatalf("key file holds %q", skey)
	}
	v, err := note.NewVerifier(a.VerifierKey())
	if err != nil || v.Name() != anchor.DefaultOrigin || a.Origin() != anchor.DefaultOrigin {
		t.Fatalf("verifier key %q: %v", a.VerifierKey(), err)
	}
	// The verifier key checks what the signer key signs.
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("the verifier key does not check the key's signature: %v", err)
	}

	b, err := anchor.New(offline(t, filepath.Join(tmp, "log"), keyFile))
	if err != nil || b.VerifierKey() != a.VerifierKey() {
		t.Fatalf("second run: %v, key %q want %q", err, b.VerifierKey(), a.VerifierKey())
	}
	cfg := offline(t, filepath.Join(tmp, "log"), keyFile)
	cfg.Origin = "example.com/other"
	if _, err := anchor.New(cfg); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("a key of another origin was accepted: %v", err)
	}
	path := filepath.Join(tmp, "out", "log.vkey")
	if err := a.WriteVerifierKey(path); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != a.VerifierKey()+"\n" {
		t.Fatalf("log.vkey holds %q", got)
	}

	cfg = offline(t, filepath.Join(tmp, "log2"), filepath.Join(tmp, "other.key"))
	cfg.Origin = "example.com/other"
	c, err := anchor.New(cfg)
	if err != nil || !strings.HasPrefix(c.VerifierKey(), "example.com/other+") {
		t.Fatalf("a key for a given origin: %v %q", err, c.VerifierKey())
	}
	cfg.CheckpointInterval = 50 * time.Millisecond
	if _, err := anchor.New(cfg); err == nil {
		t.Fatal("a checkpoint interval under the POSIX driver's 100ms was accepted")
	}
}

// A log that has a signed checkpoint is never given a new key (its history
// would no longer verify), and never opened with another log's key.
// Several first runs at once (replays sharing the default key file) all
// succeed, with one key: none clobbers another's, none reads half a file,
// and no temporary file is left beside it.
func TestFirstRunsAtOnceShareOneKey(t *testing.T) {
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "config", "inbond", "replay-ledger.key")
	const runs = 8
	vkeys := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			a, err := anchor.New(offline(t, filepath.Join(tmp, fmt.Sprintf("log-%d", i)), keyFile))
			if errs[i] = err; err == nil {
				vkeys[i] = a.VerifierKey()
			}
		})
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || vkeys[i] != vkeys[0] {
			t.Errorf("run %d: key %q, error %v; run 0's key %q", i, vkeys[i], errs[i], vkeys[0])
		}
	}
	ents, err := os.ReadDir(filepath.Dir(keyFile))
	if err != nil || len(ents) != 1 || ents[0].Name() != "replay-ledger.key" {
		t.Errorf("the key directory holds %v (%v), want the key alone", ents, err)
	}
}

func TestExistingLogNeedsItsOwnKey(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, anchor.DefaultOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	empty := rfc6962.DefaultHasher.EmptyRoot()
	signed, err := note.Sign(&note.Note{Text: string(log.Checkpoint{Origin: anchor.DefaultOrigin, Size: 0, Hash: empty}.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), signed, 0o644); err != nil {
		t.Fatal(err)
	}

	missing := filepath.Join(tmp, "lost.key")
	if _, err := anchor.New(offline(t, dir, missing)); err == nil || !strings.Contains(err.Error(), "restore the key") {
		t.Fatalf("a log whose key is missing got a new one: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a key was written for a log that has one: %v", err)
	}
	other := filepath.Join(tmp, "other.key")
	otherKey, _, _ := note.GenerateKey(rand.Reader, anchor.DefaultOrigin)
	if err := os.WriteFile(other, []byte(otherKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := anchor.New(offline(t, dir, other)); err == nil || !strings.Contains(err.Error(), "not this key's") {
		t.Fatalf("a log was opened with another log's key: %v", err)
	}
	own := filepath.Join(tmp, "own.key")
	if err := os.WriteFile(own, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := anchor.New(offline(t, dir, own)); err != nil {
		t.Fatalf("the log's own key: %v", err)
	}
}

// The verifier key is derived from the signer key as x/mod's note documents
// the pair (whose key data holds a '+'); an empty origin takes the key's.
func TestVerifierKeyOfADocumentedKey(t *testing.T) {
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "ledger.key")
	skey := "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := anchor.New(offline(t, filepath.Join(tmp, "log"), keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"; a.VerifierKey() != want || a.Origin() != "PeterNeumann" {
		t.Fatalf("verifier key %q (origin %q), want %q", a.VerifierKey(), a.Origin(), want)
	}
}

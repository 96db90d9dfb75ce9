package ledger_test

import (
	"crypto/rand"
	"testing"

	"github.com/inbond/inbond/ledger"
	"golang.org/x/mod/sumdb/note"
)

// FuzzOfflineProof feeds arbitrary files to the offline proof's reader and
// verifier, which take files from anyone: they never panic, and whatever
// verifies against a key that signed nothing is a failure of the fuzzer's
// luck, not of the check (so nothing may verify).
func FuzzOfflineProof(f *testing.F) {
	w := newWorld(f)
	good, err := w.evidence.MarshalProof()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra e30=\nindex 0\n\nx\n"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 18446744073709551615\n\n"))
	_, vkey, _ := note.GenerateKey(rand.Reader, origin)
	stranger, _ := note.NewVerifier(vkey)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ledger.UnmarshalProof(b)
		if err != nil {
			return
		}
		if _, err := e.Verify(stranger); err == nil {
			t.Fatal("a proof verified with a key that signed nothing")
		}
		_, _ = e.Verify(w.verifier)
	})
}

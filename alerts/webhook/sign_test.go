package webhook_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The signing example of the Standard Webhooks reference libraries (the Go
// library's TestWebhookSign; the same secret, id and payload as the spec's
// examples).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignReferenceVector(t *testing.T) {
	s, err := webhook.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhook.Sign(s, vectorID, vectorTimestamp, []byte(vectorPayload)); got != vectorSignature {
		t.Fatalf("signature\n got %s\nwant %s", got, vectorSignature)
	}
}

// newSecret returns a fresh secret in the Standard Webhooks format.
func newSecret(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// TestSignMatchesOfficialLibrary signs random messages with Sign and checks
// each byte for byte against the official Go library's signature, and that
// the library's Verify accepts the headers as a receiver would get them.
func TestSignMatchesOfficialLibrary(t *testing.T) {
	for i := range 50 {
		raw := newSecret(t)
		s, err := webhook.ParseSecret(raw)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := standardwebhooks.NewWebhook(raw)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, i*37)
		_, _ = rand.Read(body)
		id := fmt.Sprintf("evt-%d-%x", i, body[:min(len(body), 4)])
		ts := time.Now().Add(-time.Duration(i) * time.Second)
		want, err := lib.Sign(id, ts, body)
		if err != nil {
			t.Fatal(err)
		}
		got := webhook.Sign(s, id, ts.Unix(), body)
		if got != want {
			t.Fatalf("message %d: signature\n got %s\nwant %s (official library)", i, got, want)
		}
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(webhook.HeaderSignature, got)
		if err := lib.Verify(body, h); err != nil {
			t.Fatalf("message %d: official library refuses the signature: %v", i, err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	short := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 65))
	for _, tc := range []struct {
		in, wantErr string
	}{
		{vectorSecret, ""},
		{"  " + vectorSecret + "\n", ""}, // a file's trailing newline
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `"whsec_<base64>"`},
		{"whsec_not base64!", "not standard base64"},
		{short, "16 bytes, want 24 to 64"},
		{long, "65 bytes, want 24 to 64"},
	} {
		s, err := webhook.ParseSecret(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseSecret(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseSecret(%q): error %v, want one saying %q", tc.in, err, tc.wantErr)
		case err == nil && (s.IsZero() || strings.Contains(fmt.Sprintf("%v %+v %#v %s", s, s, s, s), "MfKQ")):
			t.Errorf("ParseSecret(%q): %v: empty, or it prints the key", tc.in, s)
		}
	}
}

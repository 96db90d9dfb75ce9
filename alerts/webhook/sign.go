package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The Standard Webhooks headers of every delivery.
const (
	HeaderID        = "webhook-id"        // the CloudEvents id of the transition
	HeaderTimestamp = "webhook-timestamp" // unix seconds of the attempt
	HeaderSignature = "webhook-signature" // "v1," + base64 HMAC-SHA256
)

// ContentType is the media type of a delivery's body: a structured-mode
// CloudEvent in JSON.
const ContentType = "application/cloudevents+json"

// SecretPrefix starts a Standard Webhooks symmetric secret; the base64 of
// the key follows.
const SecretPrefix = "whsec_"

// The bounds of a decoded key, as the Standard Webhooks spec recommends.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// Secret is a target's signing key. Its String and GoString never show the
// key, so a Secret can be logged or printed in an error by mistake.
type Secret struct{ key []byte }

// ParseSecret decodes a secret in the Standard Webhooks format
// "whsec_<standard base64 of 24 to 64 bytes>".
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, errors.New(`secret: want the Standard Webhooks format "whsec_<base64>"`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Secret{}, fmt.Errorf("secret: the part after %q is not standard base64: %w", SecretPrefix, err)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return Secret{}, fmt.Errorf("secret: the key is %d bytes, want %d to %d (openssl rand -base64 32 makes one)", len(key), MinSecretBytes, MaxSecretBytes)
	}
	return Secret{key: key}, nil
}

// IsZero reports whether s holds no key.
func (s Secret) IsZero() bool { return len(s.key) == 0 }

// String returns a redacted form.
func (s Secret) String() string { return SecretPrefix + "<redacted>" }

// GoString returns a redacted form, for %#v.
func (s Secret) GoString() string { return "webhook.Secret{<redacted>}" }

// Sign returns the webhook-signature value of a message: "v1," followed by
// the standard base64 of HMAC-SHA256 under the key, over
// id + "." + timestamp (decimal unix seconds) + "." + body.
func Sign(s Secret, id string, timestamp int64, body []byte) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, timestamp, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

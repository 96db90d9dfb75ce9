package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/inbond/inbond/wire"
)

// DeadLetter is the record written to inbond.dlq for an input that was not
// accepted. It keeps the original bytes (up to MaxOriginalBytes) so an operator
// can fix and replay it, and the hash of all of them so a truncated body can
// still be matched to its source.
type DeadLetter struct {
	Transport    string      `json:"transport"` // mqtt or kafka
	Origin       string      `json:"origin"`    // MQTT topic, or Kafka topic/partition@offset
	Reason       wire.Reason `json:"reason"`
	Message      string      `json:"message"`
	ReceivedTime time.Time   `json:"recvtime"`
	Size         int         `json:"size"`
	SHA256       string      `json:"sha256"`
	Truncated    bool        `json:"truncated,omitempty"`
	Original     []byte      `json:"original"` // base64 in JSON
}

// Bounds of a dead letter's parts. Together they keep every dead letter well
// under bus.MaxRecordBytes however hostile the input: a dead letter too large
// for Kafka would be refused on every retry and stall the gateways behind it.
const (
	// MaxOriginalBytes bounds the original bytes kept (base64 in the record).
	MaxOriginalBytes = 256 << 10
	// MaxMessageBytes bounds the human message: one validation error per
	// element of a long array, or an echoed key, can make it any length.
	MaxMessageBytes = 4 << 10
	// MaxOriginBytes bounds the origin (an MQTT topic may be 64 KiB).
	MaxOriginBytes = 1 << 10
)

// NewDeadLetter builds the dead letter for body, refused for r.
func NewDeadLetter(transport, origin string, body []byte, r *Rejection, now time.Time) DeadLetter {
	sum := sha256.Sum256(body)
	dl := DeadLetter{
		Transport: transport, Origin: Clip(origin, MaxOriginBytes), Reason: r.Reason, Message: Clip(r.Err.Error(), MaxMessageBytes),
		ReceivedTime: now.UTC(), Size: len(body), SHA256: hex.EncodeToString(sum[:]), Original: body,
	}
	if len(body) > MaxOriginalBytes {
		dl.Original, dl.Truncated = body[:MaxOriginalBytes], true
	}
	return dl
}

// Clip returns s cut to at most max bytes, on a UTF-8 boundary, with a note
// of how long it was when it had to be cut.
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf(" … [cut: %d bytes in all]", len(s))
	cut := limit - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + note
}

// Marshal encodes the dead letter as JSON.
func (d DeadLetter) Marshal() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		// Every field is a plain value; this cannot fail.
		panic("ingest: marshal dead letter: " + err.Error())
	}
	return b
}

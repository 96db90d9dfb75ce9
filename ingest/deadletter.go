package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// DeadLetter is the record written to inbond.dlq for an input that was not
// accepted. It keeps the original bytes (up to MaxOriginalBytes) so an operator
// can fix and replay it, and the hash of all of them so a truncated body can
// still be matched to its source.
type DeadLetter struct {
	Transport    string    `json:"transport"` // mqtt or kafka
	Origin       string    `json:"origin"`    // MQTT topic, or Kafka topic/partition@offset
	Reason       Reason    `json:"reason"`
	Message      string    `json:"message"`
	ReceivedTime time.Time `json:"recvtime"`
	Size         int       `json:"size"`
	SHA256       string    `json:"sha256"`
	Truncated    bool      `json:"truncated,omitempty"`
	Original     []byte    `json:"original"` // base64 in JSON
}

// MaxOriginalBytes bounds the original bytes kept in a dead letter.
const MaxOriginalBytes = 256 << 10

// NewDeadLetter builds the dead letter for body, refused for r.
func NewDeadLetter(transport, origin string, body []byte, r *Rejection, now time.Time) DeadLetter {
	sum := sha256.Sum256(body)
	dl := DeadLetter{
		Transport: transport, Origin: origin, Reason: r.Reason, Message: r.Err.Error(),
		ReceivedTime: now.UTC(), Size: len(body), SHA256: hex.EncodeToString(sum[:]), Original: body,
	}
	if len(body) > MaxOriginalBytes {
		dl.Original, dl.Truncated = body[:MaxOriginalBytes], true
	}
	return dl
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

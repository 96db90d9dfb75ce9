package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/wire"
	"github.com/segmentio/kafka-go"
)

// TestDeadLetterIsBounded builds a dead letter from the largest parts
// hostile input can give it and checks that it still fits in one record.
func TestDeadLetterIsBounded(t *testing.T) {
	body := []byte(strings.Repeat("\"", 4<<20))
	huge := strings.Repeat("é€\"", 1<<20) // multi-byte runes: a cut must not split one
	rej := &ingest.Rejection{Reason: wire.ReasonKeyMismatch, Err: errors.New(huge)}
	dl := ingest.NewDeadLetter("mqtt", "inbond/v1/"+huge, body, rej, time.Now())
	rec := kafka.Message{Key: []byte(ingest.Clip(huge, ingest.MaxOriginBytes)), Value: dl.Marshal()}
	if n := bus.RecordSize(rec); n > bus.MaxRecordBytes {
		t.Fatalf("dead letter record of %d bytes, over the %d-byte limit", n, bus.MaxRecordBytes)
	}
	for name, s := range map[string]string{"message": dl.Message, "origin": dl.Origin} {
		if !utf8.ValidString(s) || !strings.HasSuffix(s, "bytes in all]") {
			t.Errorf("%s cut badly: …%q", name, s[max(0, len(s)-40):])
		}
	}
	if len(dl.Message) > ingest.MaxMessageBytes || len(dl.Origin) > ingest.MaxOriginBytes {
		t.Errorf("message %d bytes, origin %d bytes: over their bounds", len(dl.Message), len(dl.Origin))
	}
	if !dl.Truncated || len(dl.Original) != ingest.MaxOriginalBytes || dl.Size != len(body) {
		t.Errorf("original kept %d of %d bytes (truncated %v)", len(dl.Original), dl.Size, dl.Truncated)
	}
	if got := ingest.Clip("short", 10); got != "short" {
		t.Errorf("Clip changed a string within its limit: %q", got)
	}
}

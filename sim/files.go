package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// messageLine is one message in a traffic file (JSON lines).
type messageLine struct {
	At    time.Time `json:"at"`
	Via   Via       `json:"via"`
	Topic string    `json:"topic"`
	Key   string    `json:"key,omitempty"`
	Body  string    `json:"body"` // the exact bytes published (malformed ones included)
}

// WriteMessages writes msgs as JSON lines, one message per line, so a
// pre-generated stream can be replayed or benchmarked later.
func WriteMessages(w io.Writer, msgs []Message) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	for _, m := range msgs {
		if err := enc.Encode(messageLine{At: m.At.UTC(), Via: m.Via, Topic: m.Topic, Key: m.Key, Body: string(m.Body)}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadMessages reads a traffic file written by WriteMessages.
func ReadMessages(r io.Reader) ([]Message, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var out []Message
	for {
		var l messageLine
		if err := dec.Decode(&l); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("traffic file, message %d: %w", len(out)+1, err)
		}
		out = append(out, Message{At: l.At, Via: l.Via, Topic: l.Topic, Key: l.Key, Body: []byte(l.Body)})
	}
}

// WriteLabels writes the ground truth as JSON lines.
func WriteLabels(w io.Writer, labels []Label) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, l := range labels {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}

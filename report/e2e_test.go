package report_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/report"
	"github.com/segmentio/kafka-go"
)

// byPartition writes each message to the partition it names: the
// tampered copy keeps every record where the original was.
type byPartition struct{}

func (byPartition) Balance(m kafka.Message, _ ...int) int { return m.Partition }

// The whole path: the month's records on inbond.events, chained and
// checkpointed by the processor, anchored in a real Tessera log; a report
// computed at the log's tree verifies from the archive, and fails, naming
// the checkpoint, once one archived meter reading is altered.
func TestVerifyAgainstArchiveAndLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // raced on 2 busy cores it took 90 s
	defer cancel()
	src := anchoredMonth(t, ctx)
	recs := archive(t, month(t))
	snap, err := report.Open(ctx, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != len(recs) {
		t.Fatalf("the snapshot holds %d records, the archive %d", len(snap.Records), len(recs))
	}
	p, _ := report.ParsePeriod("2026-10")
	d, err := report.ComputeAt(p, snap)
	if err != nil {
		t.Fatal(err)
	}
	want := compute(t, "2026-10", recs) // the pure computation over the same records
	if len(d.Crude) != len(want.Crude) || d.Summary.Volumes[0] != want.Summary.Volumes[0] {
		t.Fatalf("the archive's report differs from the records': %+v vs %+v", d.Crude, want.Crude)
	}
	files := map[string][]byte{}
	for _, f := range []report.Form{report.FormEIA814, report.FormFE746R, report.FormMetering} {
		for _, ext := range []string{"csv", "json"} {
			b, err := d.Encode(f, ext)
			if err != nil {
				t.Fatal(err)
			}
			files[report.FileName(f, p, ext)] = b
		}
	}
	html, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	files[report.FileName(report.FormDOE, p, "html")] = html
	for name, b := range files {
		msg, err := report.Verify(ctx, src, name, b)
		if err != nil {
			t.Fatalf("%s does not verify: %v", name, err)
		}
		t.Log(msg)
	}
	// A number changed in the file: verify names the line.
	csvName := report.FileName(report.FormEIA814, p, "csv")
	edited := strings.Replace(string(files[csvName]), ",349.912,", ",349.999,", 1)
	if edited == string(files[csvName]) {
		t.Fatal("the test's edit did not apply")
	}
	if _, err := report.Verify(ctx, src, csvName, []byte(edited)); err == nil || !strings.Contains(err.Error(), "349.999") {
		t.Fatalf("an edited total verifies: %v", err)
	}

	// The archive with one meter reading altered, in another cluster.
	tampered := testenv.Kafka(t, embedded.KafkaConfig{})
	n := len(snap.Checkpoint.Ends)
	if err := bus.EnsureTopics(ctx, tampered, []bus.TopicSpec{{Topic: event.TopicEvents, Partitions: n}}); err != nil {
		t.Fatal(err)
	}
	tw := bus.NewWriter(tampered)
	tw.Topic, tw.Balancer = string(event.TopicEvents), byPartition{}
	altered := false
	var copyMsgs []kafka.Message
	for _, r := range snap.Records {
		v := r.Value
		if !altered && strings.Contains(string(v), `"cumulative":`) && strings.Contains(string(v), `"subject":"CRUDE-NECHE-FIRST"`) {
			s := string(v)
			i := strings.Index(s, `"cumulative":`) + len(`"cumulative":`)
			s = s[:i] + "9" + s[i:] // a bigger totalizer
			v, altered = []byte(s), true
		}
		copyMsgs = append(copyMsgs, kafka.Message{Partition: r.Partition, Key: nil, Value: v})
	}
	if !altered {
		t.Fatal("no reading to alter")
	}
	if err := tw.WriteMessages(ctx, copyMsgs...); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	bad := src
	bad.Brokers = tampered
	name := report.FileName(report.FormEIA814, p, "csv")
	_, err = report.Verify(ctx, bad, name, files[name])
	if err == nil || !strings.Contains(err.Error(), "does not match ledger checkpoint") {
		t.Fatalf("a report verifies against an altered archive: %v", err)
	}
	t.Logf("with one reading altered: %v", err)
}

package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestMergeByTimeIsAStableSort checks the k-way merge against what it
// replaced: a stable sort of the shipments' messages concatenated in order,
// with many equal times and some shipments out of order internally.
func TestMergeByTimeIsAStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for round := range 50 {
		var lists [][]Message
		var concat []Message
		for s := range rng.IntN(20) {
			var l []Message
			at := base
			for i := range rng.IntN(40) {
				if rng.IntN(4) > 0 { // a quarter share the previous message's time
					at = at.Add(time.Duration(rng.IntN(5)-1) * time.Minute) // and some step back
				}
				l = append(l, Message{At: at, Key: fmt.Sprintf("s%d-m%d", s, i)})
			}
			lists = append(lists, l)
			concat = append(concat, l...)
		}
		slices.SortStableFunc(concat, func(a, b Message) int { return a.At.Compare(b.At) })
		got := mergeByTime(lists)
		if len(got) != len(concat) {
			t.Fatalf("round %d: %d messages merged, want %d", round, len(got), len(concat))
		}
		for i := range got {
			if got[i].Key != concat[i].Key {
				t.Fatalf("round %d: message %d is %s at %s, a stable sort puts %s at %s there",
					round, i, got[i].Key, got[i].At.Format(time.TimeOnly), concat[i].Key, concat[i].At.Format(time.TimeOnly))
			}
		}
	}
}

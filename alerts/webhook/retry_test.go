package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts/webhook"
	"github.com/inbond/inbond/internal/retry"
)

var fastBackoff = retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}

// failing returns a handler that fails its first n calls with err, and
// counts the attempt numbers it sees.
func failing(n int, err error, seen *[]int) webhook.Handler {
	return func(_ context.Context, d *webhook.Delivery) error {
		*seen = append(*seen, d.Attempt)
		if len(*seen) <= n {
			return err
		}
		return nil
	}
}

func TestRetry(t *testing.T) {
	status := &webhook.AttemptError{Reason: webhook.ReasonStatus, StatusCode: 500, Err: errors.New("500")}
	t.Run("succeeds on the fourth attempt", func(t *testing.T) {
		var seen []int
		d := &webhook.Delivery{Target: webhook.Target{Attempts: 8}}
		if err := webhook.Retry(fastBackoff)(failing(3, status, &seen))(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 4 || seen[3] != 4 || d.Attempt != 4 || d.FirstAttemptAt.IsZero() {
			t.Fatalf("attempts seen %v, delivery %+v", seen, d)
		}
	})
	t.Run("gives up after the target's attempts", func(t *testing.T) {
		var seen []int
		d := &webhook.Delivery{Target: webhook.Target{Attempts: 5}}
		start := time.Now()
		err := webhook.Retry(fastBackoff)(failing(100, status, &seen))(context.Background(), d)
		if !errors.Is(err, status) || len(seen) != 5 || d.Attempt != 5 {
			t.Fatalf("err %v after attempts %v", err, seen)
		}
		// four waits of 5, 7.5, 11.25, 16.9 ms, each ±50%, capped at 20 ms.
		if el := time.Since(start); el < 15*time.Millisecond || el > 2*time.Second {
			t.Errorf("took %s", el)
		}
	})
	t.Run("Retry-After up to the policy's max", func(t *testing.T) {
		var seen []int
		busy := &webhook.AttemptError{Reason: webhook.ReasonStatus, StatusCode: 503, RetryAfter: time.Hour, Err: errors.New("503")}
		start := time.Now()
		d := &webhook.Delivery{Target: webhook.Target{Attempts: 3}}
		if err := webhook.Retry(fastBackoff)(failing(2, busy, &seen))(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
			t.Errorf("two waits of Retry-After capped at 20 ms took %s", el)
		}
	})
	t.Run("410 Gone is not retried", func(t *testing.T) {
		var seen []int
		gone := &webhook.AttemptError{Reason: webhook.ReasonStatus, StatusCode: 410, Err: errors.New("410")}
		d := &webhook.Delivery{Target: webhook.Target{Attempts: 8}}
		if err := webhook.Retry(fastBackoff)(failing(100, gone, &seen))(context.Background(), d); !errors.Is(err, gone) || len(seen) != 1 {
			t.Fatalf("err %v after attempts %v", err, seen)
		}
	})
	t.Run("stops when ctx ends", func(t *testing.T) {
		var seen []int
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		d := &webhook.Delivery{Target: webhook.Target{Attempts: 8}}
		start := time.Now()
		err := webhook.Retry(retry.Policy{Initial: time.Hour, Max: time.Hour})(failing(100, status, &seen))(ctx, d)
		if !errors.Is(err, context.Canceled) || len(seen) != 1 || time.Since(start) > time.Second {
			t.Fatalf("err %v, attempts %v, after %s", err, seen, time.Since(start))
		}
	})
}

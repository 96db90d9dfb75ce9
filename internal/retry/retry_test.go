package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/retry"
)

var fast = retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}

func TestForeverRetriesUntilSuccess(t *testing.T) {
	calls := 0
	got, err := retry.Forever(context.Background(), fast, func() (int, error) {
		if calls++; calls < 5 {
			return 0, errors.New("transient")
		}
		return 42, nil
	})
	if err != nil || got != 42 || calls != 5 {
		t.Fatalf("got %d, %v after %d calls; want 42, nil after 5", got, err, calls)
	}
}

func TestForeverStopsAtAPermanentError(t *testing.T) {
	refused := errors.New("refused")
	calls := 0
	_, err := retry.Forever(context.Background(), fast, func() (struct{}, error) {
		calls++
		return struct{}{}, retry.Permanent(refused)
	})
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("got %v after %d calls; want %v after 1", err, calls, refused)
	}
}

func TestForeverStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := retry.Forever(ctx, fast, func() (struct{}, error) { return struct{}{}, errors.New("down") })
	if err == nil || ctx.Err() == nil {
		t.Fatalf("got %v with ctx %v; want an error once ctx ended", err, ctx.Err())
	}
}

// Package retry is inbond's one policy for retrying work that must
// eventually succeed (a Kafka write, a Redis flush): exponential backoff with
// jitter, no limit on attempts or elapsed time, stopped only by success, a
// permanent error or the caller's context.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy bounds the waits between attempts: the first is about Initial, each
// next one grows exponentially (randomized by half either way) up to Max.
type Policy struct {
	Initial, Max time.Duration
}

// Default is the policy for a store that answers in milliseconds: 20 ms,
// growing to 2 s.
var Default = Policy{Initial: 20 * time.Millisecond, Max: 2 * time.Second}

// Forever runs op until it returns a nil error, an error wrapped by
// Permanent (returned unwrapped), or ctx ends (ctx's error, or op's last
// error). Between attempts it waits as p says.
func Forever[T any](ctx context.Context, p Policy, op func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = p.Initial, p.Max
	return backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
}

// Permanent marks err as one that retrying cannot fix: Forever returns it at
// once.
func Permanent(err error) error { return backoff.Permanent(err) }

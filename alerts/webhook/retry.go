package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/inbond/inbond/internal/retry"
)

// Retry tries a delivery up to its target's Attempts times. Between two
// attempts it waits as p says: about p.Initial after the first failure,
// growing 1.5× each time, randomized by half either way, at most p.Max; a
// Retry-After the target sent (AttemptError.RetryAfter) replaces the wait,
// also at most p.Max. It returns nil at the first success, the last
// attempt's error once the attempts are used up, and ctx's error as soon as
// ctx ends (during an attempt or a wait). It sets d.Attempt before each
// attempt and d.FirstAttemptAt before the first.
//
// Every failure is retried, whatever the status (a receiver answering 401
// or 404 because of a deployment in progress gets the alert once it is
// fixed; one that stays broken gets a dead letter that can be replayed),
// except 410 Gone: the receiver says it wants no more, so the delivery
// goes to the dead letter at once.
func Retry(p retry.Policy) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval = p.Initial, p.Max
			b.Reset()
			d.FirstAttemptAt = time.Now()
			for d.Attempt = 1; ; d.Attempt++ {
				err := next(ctx, d)
				if err == nil || d.Attempt >= d.Target.Attempts {
					return err
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var ae *AttemptError
				isAttempt := errors.As(err, &ae)
				if isAttempt && ae.StatusCode == http.StatusGone {
					return err
				}
				wait := b.NextBackOff()
				if isAttempt && ae.RetryAfter > 0 {
					wait = min(ae.RetryAfter, p.Max)
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				}
			}
		}
	}
}

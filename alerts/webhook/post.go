package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// UserAgent identifies the sink to receivers.
const UserAgent = "inbond-webhook/1"

// NewHTTPClient returns the client Post is meant for: it never follows a
// redirect (a 3xx answer is a failed attempt, so a signed alert never goes
// to a URL nobody configured) and leaves the timeout to Post, which applies
// each target's own.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// responseSnippet is how much of a failed answer's body is kept for the
// dead letter; drainLimit is how much of any answer is read so the
// connection can be reused.
const (
	responseSnippet = 256
	drainLimit      = 64 << 10
)

// Post is the handler at the end of the chain: one attempt, one signed
// POST of the event's body to the target, within the target's timeout. It
// returns nil on a 2xx answer, an *AttemptError on any other answer or on no
// answer, and ctx's error (not an *AttemptError) when ctx ended. now gives
// the webhook-timestamp (time.Now when nil); every attempt is signed anew,
// so a retry is never refused by a receiver's timestamp tolerance.
func Post(client *http.Client, now func() time.Time) Handler {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, d *Delivery) error {
		actx, cancel := context.WithTimeout(ctx, d.Target.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(actx, http.MethodPost, d.Target.URL, bytes.NewReader(d.Event.Body))
		if err != nil {
			return &AttemptError{Reason: ReasonTransport, Err: err}
		}
		ts := now().Unix()
		req.Header.Set("Content-Type", ContentType)
		req.Header.Set("User-Agent", UserAgent)
		req.Header.Set(HeaderID, d.Event.ID)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(d.Secret, d.Event.ID, ts, d.Event.Body))
		resp, err := client.Do(req)
		if err != nil {
			return attemptFailure(ctx, actx, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
			return nil
		}
		snippet, rerr := io.ReadAll(io.LimitReader(resp.Body, responseSnippet))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		if rerr != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return &AttemptError{
			Reason: ReasonStatus, StatusCode: resp.StatusCode, Response: strings.ToValidUTF8(string(snippet), "\uFFFD"),
			RetryAfter: retryAfter(resp), Err: fmt.Errorf("%s answered %s", d.Target.Name, resp.Status),
		}
	}
}

// attemptFailure classifies an error of client.Do.
func attemptFailure(ctx, actx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return &AttemptError{Reason: ReasonTimeout, Err: err}
	}
	return &AttemptError{Reason: ReasonTransport, Err: err}
}

// retryAfter reads a Retry-After of delay-seconds on 429 and 503 (an HTTP
// date is ignored: the backoff applies).
func retryAfter(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
